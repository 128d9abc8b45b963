// Sending plans on the real stack (the A/B test has its own file, ab-test.test.ts). Waves: 30 recipients in 3 waves,
// 5 s apart, each its slice of the target in order, the next only once the one before is sent and its time has come.
// Local time: recipients in three zones, their local contact time passed in one, 8 s ahead in another, hours ahead in
// the third; nobody receives two messages.
import { statusQuery } from '../../workflows/messages';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

describe('sending plans on the real stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  it('sends 3 waves of 10, each 5 s after the previous one was sent', async () => {
    await seedProfiles(stack.db, manyProfiles(30));
    const handle = await stack.start(baseSpec({ waves: { count: 3, every: '5s' } }));
    await waitForState(handle, 'sent', 90_000);
    expect(stack.sink.messages).toHaveLength(30);
    expect(new Set(stack.sink.messages.map((m) => m.to)).size).toBe(30);
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId }, orderBy: { id: 'asc' }, select: { sentAt: true, status: true } });
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    const waves = [rows.slice(0, 10), rows.slice(10, 20), rows.slice(20)].map((w) => w.map((r) => r.sentAt!.getTime()));
    for (const [before, after] of [[waves[0], waves[1]], [waves[1], waves[2]]]) {
      expect(Math.min(...after) - Math.max(...before)).toBeGreaterThanOrEqual(5000);
    }
    const status = await handle.query(statusQuery);
    expect(status.waves?.map((w) => [w.messages, w.state])).toEqual([[10, 'sent'], [10, 'sent'], [10, 'sent']]);
  });

  it.each([
    // Tokyo's time passed: at once; UTC's in 8 s; UTC−5's in 5 h.
    ['now', [['+09:00'], ['+00:00'], ['-05:00']], 2],
    // Tokyo's time passed: the next day (15 h ahead), after UTC−5's.
    ['nextDay', [['+00:00'], ['-05:00'], ['+09:00']], 1],
  ])("sends at each recipient's local time, a time passed per ifPassed \"%s\"; stop cancels the groups still ahead", async (ifPassed, offsets, groupsSent) => {
    const zoned = (zone: string, tag: string) => Array.from({ length: 10 }, (_, i) => ({ email: `${tag}${i}@example.com`, firstName: tag, attributes: { timeZone: zone } }));
    await seedProfiles(stack.db, [...zoned('UTC', 'utc'), ...Array.from({ length: 10 }, (_, i) => ({ email: `tokyo${i}@example.com`, country: 'JP' })), ...zoned('Etc/GMT+5', 'west')]);
    // The contact time 8 s from now on the UTC wall clock: passed 9 h ago in Tokyo, 5 h ahead at UTC−5.
    const due = Math.ceil((Date.now() + 8_000) / 1000) * 1000;
    const handle = await stack.start(baseSpec({ timeZone: 'recipient', scheduleAt: new Date(due).toISOString().slice(0, 19), ifPassed }));
    const sentGroups = async () => (await handle.query(statusQuery)).localTime?.groups.filter((g) => g.state === 'sent').length ?? 0;
    await eventually(async () => (await sentGroups()) === groupsSent, 60_000, `${groupsSent} group(s) sent`);
    const { groups } = (await handle.query(statusQuery)).localTime!;
    expect(groups.map((g) => [g.offsets, g.state])).toEqual(offsets.map((o, i) => [o, i < groupsSent ? 'sent' : 'waiting']));
    const sent = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId, sentAt: { not: null } } });
    expect(sent).toHaveLength(10 * (ifPassed === 'now' ? 2 : 1));
    for (const r of sent) if (r.email.startsWith('utc')) expect(r.sentAt!.getTime()).toBeGreaterThanOrEqual(due);
    await handle.cancel();
    await waitForState(handle, 'stopped', 30_000);
    expect(stack.sink.messages).toHaveLength(sent.length); // nobody twice, nobody ahead of their time
    expect(await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, status: 'cancelled' } })).toBe(30 - sent.length);
  });
});
