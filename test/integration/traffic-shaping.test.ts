// Traffic shaping on the real stack: a relay that answers Google's "421 4.7.28 unusual rate" to RCPT TO for Google's
// domains whenever it took 5 of them in the last second (as Gmail does to a sender going too fast), and accepts the
// rest. The engine finds the rate Google accepts and stays under it, without slowing Yahoo down, and nobody is failed,
// retried as a soft failure or sent twice for it.
import { baseSpec, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';

const GOOGLE = /@(gmail|googlemail)\.com$/;
const LIMIT_PER_SECOND = 5;

describe('traffic shaping per mailbox provider (AIMD on throttling replies)', () => {
  let stack: TestStack;
  /** Every RCPT TO to Google's domains the relay saw (accepted or refused), and the ones it accepted. */
  const attempts: number[] = [];
  const accepted: number[] = [];

  beforeAll(async () => {
    stack = await startTestStack({
      smtpMaxConnections: 5,
      refuseRecipient(address) {
        if (!GOOGLE.test(address)) return undefined;
        const now = Date.now();
        attempts.push(now);
        if (accepted.filter((t) => t > now - 1000).length >= LIMIT_PER_SECOND) {
          return { code: 421, message: '4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.' };
        }
        accepted.push(now);
        return undefined;
      },
    });
  });
  afterAll(async () => stack?.close());

  it('Google\'s rate converges under its limit within a minute and stays there, Yahoo is not slowed, every message arrives once', async () => {
    await seedProfiles(stack.db, [
      ...Array.from({ length: 150 }, (_, i) => ({ email: `g${i}@gmail.com` })),
      ...Array.from({ length: 150 }, (_, i) => ({ email: `m${i}@googlemail.com` })),
      ...Array.from({ length: 1700 }, (_, i) => ({ email: `y${i}@yahoo.com` })),
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
    // from 30 s after its first message, every 10 s window holds at most 5 attempts a second.
    const start = attempts[0];
    const end = attempts[attempts.length - 1];
    const refused = attempts.length - accepted.length;
    expect(refused).toBeGreaterThan(0);
    expect(end - start).toBeGreaterThan(50_000); // 300 messages under 5/s: the sending lasted past the first minute
    const windows: number[] = [];
    for (let from = start + 30_000; from + 10_000 <= end; from += 5000) {
      windows.push(attempts.filter((t) => t >= from && t < from + 10_000).length / 10);
    }
    expect(windows.length).toBeGreaterThan(2);
    expect(Math.max(...windows)).toBeLessThanOrEqual(LIMIT_PER_SECOND);
    expect(Math.min(...windows)).toBeGreaterThanOrEqual(2); // not slowed to a crawl: AIMD keeps probing upwards
    // Refusals after convergence are the rare probe above the limit, not a steady hammering.
    expect(attempts.filter((t) => t >= start + 30_000).length - accepted.filter((t) => t >= start + 30_000).length)
      .toBeLessThan(0.15 * attempts.filter((t) => t >= start + 30_000).length);

    // Yahoo was not slowed: its 1,700 messages went out while Google was still trickling.
    const yahoo = stack.sink.messages.filter((m) => m.to.endsWith('@yahoo.com')).map((m) => m.receivedAt).sort((a, b) => a - b);
    expect(yahoo).toHaveLength(1700);
    expect(yahoo[yahoo.length - 1] - yahoo[0]).toBeLessThan(20_000);

    // The shaping state is engine-wide, in the database, with its cause: Google's row (both its domains share it).
    const google = await stack.db.domainThrottle.findUnique({ where: { domain: 'google' } });
    expect(google?.lastReply).toContain('4.7.28');
    expect(google?.cause).toBe('slow down (google-rate)');
    const providers = await stack.db.mailDomain.findMany({ where: { domain: { in: ['gmail.com', 'googlemail.com', 'yahoo.com'] } } });
    expect(Object.fromEntries(providers.map((p) => [p.domain, p.provider]))).toEqual({ 'gmail.com': 'google', 'googlemail.com': 'google', 'yahoo.com': 'yahoo' });
  });
});
