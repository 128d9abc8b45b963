// The best time per recipient on the real database: a step's plan reads each recipient's human opens and clicks in
// earlier deliveries (machine opens and opens within seconds of the sending left out), gives each message its best
// hour within the 24 h from the step's start (no history: the start), and keeps a holdout at the start.
import { MockActivityEnvironment } from '@temporalio/testing';
import { optimalTimeActivities } from '../../activities/optimal-time';
import type { ActivityDeps } from '../../activities/deps';
import type { LocalTimeGroup } from '../../domain/local-time-plan';
import { prepareOn } from '../helpers/preparation';
import { baseSpec, manyProfiles, seedProfiles, withFreshDatabase } from '../helpers/stack';

const START = '2026-12-10T09:00:00.000Z'; // a Thursday
const thursdayAt = (hour: number, week = 1) => new Date(Date.UTC(2026, 10, 26 - 7 * (week - 1), hour, 30)); // Thursdays before

describe('the best time per recipient: the plan on the database', () => {
  const fresh = withFreshDatabase(async (db) => {
    await seedProfiles(db, manyProfiles(41));
    // An earlier delivery, sent four weeks ago: users 1–10 opened on Thursdays at 18:xx, 11–20 clicked at 12:xx, 41 only ever "opened" by a
    // machine at 03:xx or within seconds of its sending; 21–40 never engaged.
    const profiles = await db.profile.findMany({ orderBy: { id: 'asc' } });
    await db.delivery.create({ data: { id: 'past', runKey: 'past#0', name: 'Past', spec: '{}' } });
    await db.sendingLog.createMany({ data: profiles.map((p) => ({ deliveryId: 'past', profileId: p.id, email: p.email, addressKey: p.email, status: 'sent', sentAt: thursdayAt(3, 4) })) });
    const logs = new Map((await db.sendingLog.findMany({ where: { deliveryId: 'past' } })).map((r) => [r.email, r.id]));
    const id = (n: number) => logs.get(`user${n}@example.com`)!;
    const events = [
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].flatMap((n) => [1, 2, 3].map((week) => ({ sendingLogId: id(n), kind: 'open', at: thursdayAt(18, week) }))),
      ...[11, 12, 13, 14, 15, 16, 17, 18, 19, 20].flatMap((n) => [1, 2].map((week) => ({ sendingLogId: id(n), kind: 'click', at: thursdayAt(12, week), linkId: 1 }))),
      { sendingLogId: id(41), kind: 'open', at: thursdayAt(5), machine: true },
      { sendingLogId: id(41), kind: 'open', at: new Date(thursdayAt(3, 4).getTime() + 2000) }, // 2 s after its sending
    ];
    await db.trackingEvent.createMany({ data: events.map((e) => ({ deliveryId: 'past', linkId: 0, ...e })) });
  });
  const plan = (holdoutPercent: number) => new MockActivityEnvironment().run(
    optimalTimeActivities({ db: fresh.db } as ActivityDeps).planOptimalTimes, { deliveryId: 'bt-1', scope: {}, startAt: START, holdoutPercent }) as Promise<LocalTimeGroup[]>;
  const timeOf = async () => new Map((await fresh.db.sendingLog.findMany({ where: { deliveryId: 'bt-1' } })).map((r) => [r.email, [r.retryAt?.toISOString().slice(11, 16), r.sendTimeClass]]));

  it("gives each message its recipient's best hour, the start without history; one group per hour", async () => {
    await prepareOn(fresh.db, 'bt-1', baseSpec({ sendTime: 'optimal', scheduleAt: START }));
    const groups = await plan(0);
    expect(groups.map((g) => [g.at, g.messages])).toEqual([
      ['2026-12-10T09:00:00.000Z', 21], ['2026-12-10T12:00:00.000Z', 10], ['2026-12-10T18:00:00.000Z', 10],
    ]);
    const times = await timeOf();
    expect(times.get('user1@example.com')).toEqual(['18:00', 'optimal']);
    expect(times.get('user11@example.com')).toEqual(['12:00', 'optimal']);
    expect(times.get('user21@example.com')).toEqual(['09:00', 'default']);
    expect(times.get('user41@example.com')).toEqual(['09:00', 'default']); // machines are not readers
  });

  it('keeps a holdout at the start, the same recipients on every run of the plan', async () => {
    await plan(50);
    const first = await timeOf();
    const holdout = [...first].filter(([, [, cls]]) => cls === 'holdout');
    expect(holdout.length).toBeGreaterThan(8);
    expect(holdout.length).toBeLessThan(33);
    expect(holdout.every(([, [time]]) => time === '09:00')).toBe(true);
    await plan(50);
    expect(await timeOf()).toEqual(first);
  });
});
