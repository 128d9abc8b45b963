// The recipient's local time on the real database: the preparation resolves each message's zone (the profile's
// timeZone attribute, its country, the default) and previews the groups; a step's plan gives its messages their
// local time (claims take none before it) and leaves soft failures and other steps' messages alone.
import { MockActivityEnvironment } from '@temporalio/testing';
import { localTimeActivities, type LocalTimeInput } from '../../activities/local-time';
import type { ActivityDeps } from '../../activities/deps';
import type { LocalTimeGroup } from '../../domain/local-time-plan';
import { sendingLogs } from '../../store/sending-logs';
import { prepareOn } from '../helpers/preparation';
import { baseSpec, seedProfiles, withFreshDatabase } from '../helpers/stack';

const PROFILES = [
  ...Array.from({ length: 4 }, (_, i) => ({ email: `chicago${i}@example.com`, country: 'FR', attributes: { timeZone: 'America/Chicago' } })),
  ...Array.from({ length: 3 }, (_, i) => ({ email: `paris${i}@example.com`, country: 'France' })),
  ...Array.from({ length: 2 }, (_, i) => ({ email: `tokyo${i}@example.com`, country: 'JP', attributes: { timeZone: 'not/a-zone' } })),
  { email: 'nowhere@example.com', country: 'Atlantis' },
];

describe("the recipient's local time: preparation and plan", () => {
  const fresh = withFreshDatabase((db) => seedProfiles(db, PROFILES));
  const spec = baseSpec({ timeZone: 'recipient', scheduleAt: '2030-06-10T09:00:00', defaultTimeZone: 'Europe/Lisbon' });
  const plan = (input: LocalTimeInput) =>
    new MockActivityEnvironment().run(localTimeActivities({ db: fresh.db } as ActivityDeps).planLocalTime, input) as Promise<LocalTimeGroup[]>;

  it("resolves each message's zone and previews the groups, earliest first", async () => {
    const result = await prepareOn(fresh.db, 'lt-1', spec);
    const rows = await fresh.db.sendingLog.findMany({ where: { deliveryId: 'lt-1' }, select: { email: true, timeZone: true } });
    const zoneOf = new Map(rows.map((r) => [r.email, r.timeZone]));
    expect([zoneOf.get('chicago0@example.com'), zoneOf.get('paris0@example.com'), zoneOf.get('tokyo0@example.com'), zoneOf.get('nowhere@example.com')])
      .toEqual(['America/Chicago', 'Europe/Paris', 'Asia/Tokyo', 'Europe/Lisbon']);
    expect(result.localTime?.map((g) => [g.at, g.offsets, g.messages])).toEqual([
      ['2030-06-10T00:00:00.000Z', ['+09:00'], 2],
      ['2030-06-10T07:00:00.000Z', ['+02:00'], 3],
      ['2030-06-10T08:00:00.000Z', ['+01:00'], 1],
      ['2030-06-10T14:00:00.000Z', ['-05:00'], 4],
    ]);
  });

  it("gives a step's messages their local time: claims take only those due, soft failures keep theirs", async () => {
    const softRetry = new Date('2030-06-10T12:34:00Z');
    await fresh.db.sendingLog.updateMany({ where: { deliveryId: 'lt-1', email: 'chicago3@example.com' }, data: { softFailures: 1, retryAt: softRetry } });
    // The step starts at 07:30Z: Tokyo (00:00Z) and Paris (07:00Z) have passed; "now" sends them at once.
    const groups = await plan({ deliveryId: 'lt-1', scope: {}, startAt: '2030-06-10T07:30:00.000Z', scheduleAt: '2030-06-10T09:00:00', ifPassed: 'now' });
    expect(groups.map((g) => [g.at, g.zones, g.messages])).toEqual([
      ['2030-06-10T07:30:00.000Z', ['Asia/Tokyo', 'Europe/Paris'], 5],
      ['2030-06-10T08:00:00.000Z', ['Europe/Lisbon'], 1],
      ['2030-06-10T14:00:00.000Z', ['America/Chicago'], 3], // the one waiting for its soft retry is not in the plan
    ]);
    const times = new Map((await fresh.db.sendingLog.findMany({ where: { deliveryId: 'lt-1' } })).map((r) => [r.email, r.retryAt?.toISOString()]));
    expect(times.get('chicago3@example.com')).toBe(softRetry.toISOString());
    expect(times.get('chicago0@example.com')).toBe('2030-06-10T14:00:00.000Z');
    // Claims are judged on the database's clock, today: none of these is due before 2030.
    expect(await sendingLogs(fresh.db).claim('lt-1', 'r1/0/1/a', 100)).toEqual([]);
  });

  it("plans only the step's scope: the A/B test population first, the rest later", async () => {
    const ab = { ...spec, variants: [{ name: 'A', subject: 'a' }, { name: 'B', subject: 'b' }], abTest: { percent: 50, winnerBy: 'clicks', decideAfter: '4h' } };
    const result = await prepareOn(fresh.db, 'lt-2', ab);
    expect(result.variants).toEqual({ A: 3, B: 2 }); // half of the 10, dealt in turn
    const groups = await plan({ deliveryId: 'lt-2', scope: { testOnly: true }, startAt: '2030-06-01T00:00:00.000Z', scheduleAt: '2030-06-10T09:00:00', ifPassed: 'nextDay' });
    expect(groups.reduce((n, g) => n + g.messages, 0)).toBe(5);
    const rows = await fresh.db.sendingLog.findMany({ where: { deliveryId: 'lt-2' }, select: { variant: true, retryAt: true } });
    expect(rows.filter((r) => r.retryAt !== null).length).toBe(5);
    expect(rows.every((r) => (r.variant === null) === (r.retryAt === null))).toBe(true);
  });
});
