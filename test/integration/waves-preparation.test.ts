// Waves prepared on the real database (the activity itself): each wave's size and last id in the target's order,
// outside an A/B test's population; a wave's claims stop at its last id; the wave scheduling check warns.
import { abTallies } from '../../store/ab-tallies';
import { sendingLogs } from '../../store/sending-logs';
import { prepareOn } from '../helpers/preparation';
import { baseSpec, manyProfiles, seedProfiles, withFreshDatabase } from '../helpers/stack';

describe('waves: the preparation and the claims', () => {
  const fresh = withFreshDatabase((db) => seedProfiles(db, manyProfiles(100)));

  const prepare = (deliveryId: string, spec: Record<string, unknown>) => prepareOn(fresh.db, deliveryId, spec);
  const pendingIds = async (deliveryId: string) => (await fresh.db.sendingLog.findMany({ where: { deliveryId, status: 'pending' }, orderBy: { id: 'asc' }, select: { id: true } })).map((r) => r.id);

  it("cuts the target in its order, each wave ending at its last message's id; a wave's claims stop there", async () => {
    const result = await prepare('w-1', baseSpec({ waves: { percent: [10, 30, 60], every: '1h' } }));
    const ids = await pendingIds('w-1');
    expect(result.waves).toEqual([{ messages: 10, lastId: ids[9] }, { messages: 30, lastId: ids[39] }, { messages: 60, lastId: ids[99] }]);
    const logs = sendingLogs(fresh.db);
    const first = await logs.claim('w-1', 'r1/0/1/a', 1000, { upToId: result.waves![0].lastId });
    expect(first.map((r) => r.id)).toEqual(ids.slice(0, 10));
    expect(await logs.anyPending('w-1', { upToId: result.waves![0].lastId })).toBe(false); // wave 1 is all handed out
    expect(await logs.anyPending('w-1')).toBe(true); // the later waves wait
    expect(await logs.claim('w-1', 'r1/0/1/b', 1000, { upToId: result.waves![1].lastId })).toHaveLength(30);
    expect(await logs.claim('w-1', 'r1/0/1/c', 1000)).toHaveLength(60);
  });

  it("takes the waves out of what an A/B test leaves: the test population first, then the rest in waves", async () => {
    const result = await prepare('w-2', baseSpec({
      variants: [{ name: 'A', subject: 'a' }, { name: 'B', subject: 'b' }], abTest: { percent: 40, winnerBy: 'clicks', decideAfter: '30s' },
      waves: { count: 2, every: '1h' },
    }));
    expect(result.variants).toEqual({ A: 20, B: 20 });
    expect(result.waves?.map((w) => w.messages)).toEqual([30, 30]);
    const rest = (await fresh.db.sendingLog.findMany({ where: { deliveryId: 'w-2', variant: null }, orderBy: { id: 'asc' }, select: { id: true } })).map((r) => r.id);
    expect(result.waves?.map((w) => w.lastId)).toEqual([rest[29], rest[59]]);
    const logs = sendingLogs(fresh.db);
    expect(await logs.claim('w-2', 'r1/0/1/test', 1000, { testOnly: true })).toHaveLength(40);
    await abTallies(fresh.db).giveRestTheWinner('w-2', 'B');
    const wave1 = await logs.claim('w-2', 'r1/0/1/w1', 1000, { upToId: result.waves![0].lastId });
    expect(wave1.map((r) => r.id)).toEqual(rest.slice(0, 30));
    expect(new Set(wave1.map((r) => r.variant))).toEqual(new Set(['B']));
  });

  it('warns when the last wave would start after the validity period (the wave scheduling check)', async () => {
    const result = await prepare('w-3', baseSpec({ waves: { count: 5, every: '1d' }, retries: { validitySeconds: 3 * 24 * 3600 } }));
    expect(result.waves).toHaveLength(5);
    expect(result.warnings).toContainEqual(expect.stringMatching(/^Wave scheduling: the last of 5 waves starts at least 4 days after sending starts/));
  });
});
