// Several worker processes share one delivery's sending: each sending activity claims its own rows
// (FOR UPDATE SKIP LOCKED on Postgres; SQLite has one writer), so no message goes out twice.
// Per-domain caps hold a domain back without holding back the others; engine-wide caps hold across deliveries
// and worker processes.
import { baseSpec, eventually, seedManyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import { runCli } from '../helpers/cli';

describe('parallel senders on several workers, per-domain caps', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ inProcessWorker: false, smtpMaxConnections: 4, replyDelayMs: 2 });
  });
  afterAll(async () => stack?.close());

  it('two worker processes send one delivery together, every message exactly once', async () => {
    // Two activity slots per worker and four senders: both workers must take part.
    const workers = [stack.spawnWorker({ MAX_CONCURRENT_ACTIVITIES: '2' }), stack.spawnWorker({ MAX_CONCURRENT_ACTIVITIES: '2' })];
    await seedManyProfiles(stack.db, 3000);
    const handle = await stack.start(baseSpec({ parallelSenders: 4 }));
    const outcome = await handle.result();
    expect(outcome.kpis).toMatchObject({ toDeliver: 3000, sent: 3000, delivered: 3000, failed: 0, pending: 0, possibleDuplicates: 0 });

    await stack.sink.waitForCount(3000);
    const counts = stack.sink.countByRecipient();
    expect(counts.size).toBe(3000);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    const history = await handle.fetchHistory();
    const senders = new Set(history.events!
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.identity));
    expect(senders.size).toBe(2); // the two worker processes
    const byClaimer = await stack.db.sendingLog.groupBy({ by: ['sendAttempts'], _count: { _all: true } });
    expect(byClaimer).toEqual([{ sendAttempts: 1, _count: { _all: 3000 } }]); // each row claimed once
    for (const w of workers) w.kill('SIGTERM');
    await eventually(() => workers.every((w) => w.exitCode !== null || w.signalCode !== null), 30_000, 'workers stopped');
  });

  it('caps a recipient domain (messages per second, connections) without slowing the other domains', async () => {
    await stack.db.sendingLog.deleteMany();
    await stack.db.profile.deleteMany();
    stack.sink.messages.length = 0;
    stack.spawnWorker();
    await seedProfiles(stack.db, [
      ...Array.from({ length: 12 }, (_, i) => ({ email: `slow${i}@slow.example` })),
      ...Array.from({ length: 200 }, (_, i) => ({ email: `fast${i}@fast.example` })),
    ]);
    const handle = await stack.start(baseSpec({ domainLimits: { 'slow.example': { messagesPerSecond: 2, connections: 1 } } }));
    expect((await handle.result()).kpis).toMatchObject({ sent: 212, failed: 0 });
    const times = (domain: string) => stack.sink.messages.filter((m) => m.to.endsWith(`@${domain}`)).map((m) => m.receivedAt).sort((a, b) => a - b);
    const slow = times('slow.example');
    const fast = times('fast.example');
    expect(slow).toHaveLength(12);
    // 12 messages at 2 a second (a late message may be followed by one more at once): the first and
    // the last are at least 10 intervals of 500 ms apart (less a little network jitter).
    expect(slow[11] - slow[0]).toBeGreaterThanOrEqual(10 * 500 - 100);
    // The capped domain did not hold back the other one: most of fast.example went out while slow.example
    // was still trickling (a sender waiting behind slow.example would have sent 4 fast messages by then).
    expect(fast.filter((t) => t < slow[5]).length).toBeGreaterThanOrEqual(50);
  });

  it('an engine-wide domain cap holds across two deliveries sent at once by two worker processes, set and lifted from the CLI', async () => {
    await stack.db.sendingLog.deleteMany();
    await stack.db.profile.deleteMany();
    stack.sink.messages.length = 0;
    const workers = [stack.spawnWorker(), stack.spawnWorker()];
    const refused = [await runCli(stack, ['domains', 'set', 'Capped.Example', '--rate', '4']), await runCli(stack, ['domains', 'set', 'capped.example', '--rate', '0'])];
    expect(refused.map((r) => r.code)).toEqual([2, 2]);
    expect(refused[0].stderr).toContain('"Capped.Example" is neither a domain (write it lower-case, such as gmail.com) nor a provider (google, ');
    expect(refused[1].stderr).toContain('--rate must be a number of messages per second above 0');
    expect((await runCli(stack, ['domains', 'set', 'capped.example', '--rate', '4'])).stdout).toContain('capped.example: at most 4 messages/s from the whole engine (created)');

    await seedProfiles(stack.db, ['a', 'b'].flatMap((group) => Array.from({ length: 8 }, (_, i) => ({ email: `${group}${i}@capped.example` }))));
    const deliveries = await Promise.all(['a', 'b'].map((group) => stack.start(baseSpec({ name: `Capped ${group}`, audience: { where: { email: { startsWith: group } } } }))));
    const outcomes = await Promise.all(deliveries.map((d) => d.result()));
    expect(outcomes.map((o) => o.kpis.sent)).toEqual([8, 8]);
    const times = stack.sink.messages.map((m) => m.receivedAt).sort((x, y) => x - y);
    expect(times).toHaveLength(16);
    // 16 messages at 4 a second between both deliveries (each alone may take all 4: it has no cap of its own):
    // the first and the last are at least 14 intervals of 250 ms apart (one may catch up; a little jitter).
    expect(times[15] - times[0]).toBeGreaterThanOrEqual(14 * 250 - 150);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(6);

    const listed = JSON.parse((await runCli(stack, ['domains', 'list', '--json'])).stdout) as Array<{ domain: string; messagesPerSecond: number }>;
    expect(listed.map((d) => [d.domain, d.messagesPerSecond])).toEqual([['capped.example', 4]]);
    expect((await runCli(stack, ['domains', 'remove', 'capped.example'])).code).toBe(0);
    expect((await runCli(stack, ['domains', 'remove', 'capped.example'])).code).toBe(2);
    for (const w of workers) w.kill('SIGTERM');
    await eventually(() => workers.every((w) => w.exitCode !== null || w.signalCode !== null), 30_000, 'workers stopped');
  }, 120_000);
});
