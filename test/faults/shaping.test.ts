// Traffic shaping under faults, on the real stack: a provider that throttles (421 4.7.28 above its limit) while the
// worker is SIGKILLed mid-send, and a provider suspended by an ops rule. A throttled or suspended message goes back to
// the queue: nothing lost, nothing sent twice beyond what the kill itself may cause (counted), nobody failed; the
// shaping state lives in the database, so the worker that takes over starts at the slowed rate instead of hammering.
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { runCli } from '../helpers/cli';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import { googleLimiter } from '../../stack/throttling-relay';
import { account } from './fault-table';

const FAST_FAILOVER = { heartbeatTimeoutSeconds: 2, retryMaxIntervalSeconds: 2 };
const GOOGLE_LIMIT = 10;

describe('traffic shaping under faults', () => {
  let stack: TestStack;
  let worker: ChildProcess;
  /** Google's throttling: at most GOOGLE_LIMIT accepted a second; every RCPT TO it saw. */
  const google = googleLimiter(GOOGLE_LIMIT);
  /** GMX refuses everything until this time. */
  let gmxBusyUntil = 0;

  beforeAll(async () => {
    stack = await startTestStack({
      inProcessWorker: false,
      refuseRecipient(address) {
        const throttled = google.refuseRecipient(address);
        if (throttled) return throttled;
        if (address.endsWith('@gmx.de') && Date.now() < gmxBusyUntil) return { code: 421, message: '4.7.0 Too many mails from your IP, try again later' };
        return undefined;
      },
    });
    worker = stack.spawnWorker();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  it('a throttling provider and a worker SIGKILL mid-send: the successor keeps the slowed rate, every message once', async () => {
    await seedProfiles(stack.db, [...manyProfiles(150, 'gmail.com'), ...manyProfiles(150, 'example.com')]);
    const handle = await stack.start(baseSpec(), FAST_FAILOVER);
    // Killed once Google has slowed it down (its row in the database) and some of Google's mail is still to send.
    await eventually(async () => (await stack.db.domainThrottle.findUnique({ where: { domain: 'google' } })) !== null && google.accepted.length > 30, 60_000, 'google slowed down');
    const slowed = (await stack.db.domainThrottle.findUnique({ where: { domain: 'google' } }))!;
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    const killedAt = Date.now();
    worker = stack.spawnWorker();
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ sent: 300, failed: 0, pending: 0 });
    // The state outlived the worker: the successor started at the slowed rate, not at full speed.
    expect(slowed.messagesPerSecond).toBeLessThan(slowed.ceiling!);
    const after = google.attempts.filter((t) => t > killedAt);
    const firstSecond = after.filter((t) => t < after[0] + 1000).length;
    expect(firstSecond).toBeLessThanOrEqual(2 * GOOGLE_LIMIT);
    const row = await account(stack, handle.workflowId, `provider throttling (421 4.7.28 above ${GOOGLE_LIMIT}/s) and a worker SIGKILL mid-send`, google.attempts.length - google.accepted.length);
    expect(row).toMatchObject({ recipients: 300, received: 300, lost: 0, failedWrongly: 0, quarantinedWrongly: 0 });
    expect(row.duplicates).toBeLessThanOrEqual(row.counted); // only what was in flight at the kill, and counted
    expect(await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, softFailures: { gt: 0 } } })).toBe(0);
  });

  it('a provider suspended by an ops rule: held for its duration while the others send, then every message once', async () => {
    expect((await runCli(stack, ['shaping', 'rules', 'add', 'gmx-too-many', '--text', 'too many mails', '--action', 'suspend', '--for', '20s'])).code).toBe(0);
    await seedProfiles(stack.db, [...manyProfiles(60, 'gmx.de'), ...manyProfiles(60, 'example.com')]);
    gmxBusyUntil = Date.now() + 10_000;
    const started = Date.now();
    const handle = await stack.start(baseSpec(), FAST_FAILOVER);
    // Ops see the suspension, its cause and the provider's reply while it lasts.
    let listed = '';
    await eventually(async () => /^gmx .*suspended until .*gmx-too-many.*Too many mails/m.test(listed = (await runCli(stack, ['domains', 'list'])).stdout), 15_000, `gmx suspended in "delivery domains list" (${listed})`);
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ sent: 120, failed: 0, pending: 0 });
    const times = (domain: string) => stack.sink.messages.filter((m) => m.to.endsWith(`@${domain}`)).map((m) => m.receivedAt).sort((a, b) => a - b);
    expect(times('example.com')[59] - started).toBeLessThan(10_000); // the others went on at once
    expect(times('gmx.de')[0] - started).toBeGreaterThanOrEqual(19_000); // GMX waited out its 20 s suspension
    const row = await account(stack, handle.workflowId, 'provider suspended by an ops rule (421 "too many mails" → suspend 20 s)', 1);
    expect(row).toMatchObject({ recipients: 120, received: 120, lost: 0, duplicates: 0, counted: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });
});
