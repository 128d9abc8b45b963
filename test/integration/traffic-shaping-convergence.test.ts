// Traffic shaping over time on the real stack: a relay that throttles Google above 5 messages a second
// (stack/throttling-relay.ts). The engine finds the rate Google accepts and stays under it, without slowing
// Yahoo down, and nobody is failed, retried as a soft failure or sent twice for it. Over a minute by design, it runs
// on SQLite only (CI): on Postgres, traffic-shaping.test.ts checks the same statements on a short throttled send.
import { googleLimiter } from '../../stack/throttling-relay';
import { baseSpec, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';

const LIMIT_PER_SECOND = 5;

describe('traffic shaping per mailbox provider over time (AIMD on throttling replies)', () => {
  let stack: TestStack;
  const { attempts, accepted, refuseRecipient } = googleLimiter(LIMIT_PER_SECOND);

  beforeAll(async () => {
    stack = await startTestStack({ smtpMaxConnections: 5, refuseRecipient });
  });
  afterAll(async () => stack?.close());

  it('Google\'s rate converges under its limit within a minute and stays there, Yahoo is not slowed, every message arrives once', async () => {
    await seedProfiles(stack.db, [
      ...Array.from({ length: 80 }, (_, i) => ({ email: `g${i}@gmail.com` })),
      ...Array.from({ length: 80 }, (_, i) => ({ email: `m${i}@googlemail.com` })),
      ...Array.from({ length: 1840 }, (_, i) => ({ email: `y${i}@yahoo.com` })),
    ]);
    const handle = await stack.start(baseSpec());
    const outcome = await handle.result();
    expect(outcome.kpis).toMatchObject({ toDeliver: 2000, sent: 2000, failed: 0, pending: 0, possibleDuplicates: 0 });

    // Every message arrived exactly once; nobody was failed or charged a soft failure for Google's throttling.
    await stack.sink.waitForCount(2000);
    const counts = stack.sink.countByRecipient();
    expect(counts.size).toBe(2000);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await stack.db.sendingLog.count({ where: { OR: [{ softFailures: { gt: 0 } }, { status: { not: 'sent' } }, { possibleDuplicate: true }] } })).toBe(0);

    // Google was throttled (the test would prove nothing otherwise), then the engine's rate settled under the limit:
    // from 15 s after its first message, every 10 s window holds at most 5 attempts a second (npm run bench:shaping
    // shows the same over two minutes).
    const start = attempts[0];
    const end = attempts[attempts.length - 1];
    const refused = attempts.length - accepted.length;
    expect(refused).toBeGreaterThan(0);
    expect(end - start).toBeGreaterThan(30_000); // 160 messages under 5/s: 15 s to settle, then at least 15 s of holding
    const windows: number[] = [];
    for (let from = start + 15_000; from + 10_000 <= end; from += 2500) {
      windows.push(attempts.filter((t) => t >= from && t < from + 10_000).length / 10);
    }
    expect(windows.length).toBeGreaterThan(2);
    expect(Math.max(...windows)).toBeLessThanOrEqual(LIMIT_PER_SECOND);
    expect(Math.min(...windows)).toBeGreaterThanOrEqual(1); // not slowed to a crawl: AIMD keeps probing upwards
    // Refusals after convergence are the rare probe above the limit, not a steady hammering.
    const settled = (times: number[]) => times.filter((t) => t >= start + 15_000).length;
    expect(settled(attempts) - settled(accepted)).toBeLessThan(0.15 * settled(attempts));

    // Yahoo was not slowed: its 1,840 messages went out while Google was still trickling.
    const yahoo = stack.sink.messages.filter((m) => m.to.endsWith('@yahoo.com')).map((m) => m.receivedAt).sort((a, b) => a - b);
    expect(yahoo).toHaveLength(1840);
    expect(yahoo[yahoo.length - 1] - yahoo[0]).toBeLessThan(20_000);

    // The shaping state is engine-wide, in the database, with its cause: Google's row (both its domains share it).
    const google = await stack.db.domainThrottle.findUnique({ where: { domain: 'google' } });
    expect(google?.lastReply).toContain('4.7.28');
    expect(google?.cause).toBe('slow down (google-rate)');
    const providers = await stack.db.mailDomain.findMany({ where: { domain: { in: ['gmail.com', 'googlemail.com', 'yahoo.com'] } } });
    expect(Object.fromEntries(providers.map((p) => [p.domain, p.provider]))).toEqual({ 'gmail.com': 'google', 'googlemail.com': 'google', 'yahoo.com': 'yahoo' });
  });
});
