// Waves on the real stack: 30 recipients in 3 waves, 5 s apart. Each wave is its slice of the target in order, the
// next goes only once the one before is sent and its time has come, and nobody receives two messages.
import { statusQuery } from '../../workflows/messages';
import { baseSpec, clearData, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

describe('waves on the real stack', () => {
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
});
