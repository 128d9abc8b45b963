import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { statusQuery } from '../../workflows/messages';
import type { DeliveryHandle } from '../../client/deliveries';
import { clearData, baseSpec, eventually, manyProfiles, seedManyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { auditFencing } from '../helpers/fence-audit';
import { account } from './fault-table';

const FAST_FAILOVER = { heartbeatTimeoutSeconds: 2, retryMaxIntervalSeconds: 2 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sending activity as the server sees it: its attempt, and the worker that runs it. */
async function sendingAttempt(handle: DeliveryHandle) {
  const { raw } = await handle.describe();
  const a = raw.pendingActivities?.find((p) => p.activityType?.name === 'sendDelivery');
  return a ? { attempt: a.attempt ?? 0, worker: a.lastWorkerIdentity ?? '', started: Number(a.state) === 2 } : undefined;
}

describe('worker SIGKILL, SIGTERM and SIGSTOP', () => {
  let stack: TestStack;
  let worker: ChildProcess;
  const kill = async () => {
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    worker = stack.spawnWorker();
  };
  beforeAll(async () => {
    stack = await startTestStack({ inProcessWorker: false });
    worker = stack.spawnWorker();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  const PROFILES = 800_000;

  it('during preparation, three times: the preparation resumes and the delivery is exact', async () => {
    // Enough profiles for three kills at ~20,000 a second (200,000 were prepared before the third);
    // capacity keeps the send short: the preparation still reads, checks and records all of them.
    await seedManyProfiles(stack.db, PROFILES);
    const handle = await stack.start(baseSpec({ typology: { rules: { capacity: { maxRecipients: 300, priority: 'oldest' } } } }), FAST_FAILOVER);
    let kills = 0;
    let last = 0;
    while (kills < 3) {
      // kill each time the preparation has moved on (a resumed attempt reports the rows already recorded)
      let state = 'preparing';
      await eventually(async () => {
        const s = await handle.query(statusQuery).catch(() => undefined);
        state = s?.state ?? state;
        return state !== 'preparing' || (s?.preparedSoFar ?? 0) > last;
      }, 120_000, 'preparation progress');
      if (state !== 'preparing') break;
      last = (await handle.query(statusQuery)).preparedSoFar ?? last;
      await kill();
      kills++;
    }
    expect(kills).toBe(3);
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ targeted: PROFILES, toDeliver: 300, toExclude: PROFILES - 300, sent: 300 });
    expect(await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId } })).toBe(PROFILES); // one row per profile
    const row = await account(stack, handle.workflowId, 'worker SIGKILL during preparation', kills);
    expect(row).toMatchObject({ recipients: 300, received: 300, lost: 0, duplicates: 0 });
  });

  it('SIGTERM during sending, five times (a deploy each time): every message once, none even counted as possibly twice', async () => {
    await seedProfiles(stack.db, manyProfiles(600));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 80 }), FAST_FAILOVER);
    await waitForState(handle, 'sending', 60_000);
    const exits: number[] = [];
    while (exits.length < 5) {
      const before = stack.sink.messages.length;
      await eventually(() => stack.sink.messages.length >= before + 40, 120_000, 'sending progress');
      const t = Date.now();
      worker.kill('SIGTERM');
      await once(worker, 'exit');
      exits.push(Date.now() - t);
      worker = stack.spawnWorker();
    }
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ toDeliver: 600, sent: 600, failed: 0, pending: 0, possibleDuplicates: 0 });
    expect(Math.max(...exits)).toBeLessThan(25_000); // within docker-compose's stop_grace_period (30 s)
    const row = await account(stack, handle.workflowId, `worker SIGTERM during sending (exited in ${Math.max(...exits)} ms at most)`, exits.length);
    expect(row).toMatchObject({ recipients: 600, received: 600, lost: 0, duplicates: 0, counted: 0 });
  });

  it('a stale attempt: its worker stopped past the heartbeat timeout, resumed after a successor started, changes no row it no longer owns', async () => {
    const audit = await auditFencing(stack.dbUrl);
    const other = stack.spawnWorker();
    try {
      await seedProfiles(stack.db, manyProfiles(800));
      const handle = await stack.start(baseSpec({ messagesPerSecond: 80 }), FAST_FAILOVER);
      await eventually(() => stack.sink.messages.length >= 80, 120_000, '80 messages sent');
      const first = (await sendingAttempt(handle))!;
      const stale = [worker, other].find((w) => first.worker.startsWith(`${w.pid}@`))!;
      stale.kill('SIGSTOP');
      try {
        // The stopped worker's open polls may take a retry or two first (each then times out in turn).
        await eventually(async () => {
          const now = await sendingAttempt(handle);
          return now !== undefined && now.attempt > first.attempt && now.started && now.worker !== first.worker;
        }, 90_000, 'a successor attempt on the other worker');
        await sleep(1500); // the successor re-queues the stale attempt's rows and sends them
      } finally {
        stale.kill('SIGCONT');
      }
      const { kpis } = await handle.result();
      expect(kpis).toMatchObject({ toDeliver: 800, sent: 800, failed: 0, pending: 0 });
      expect(await audit.violations()).toEqual([]);
      const row = await account(stack, handle.workflowId, 'worker SIGSTOP past the heartbeat timeout, SIGCONT after a successor started', 1);
      expect(row).toMatchObject({ recipients: 800, received: 800, lost: 0 });
      expect(row.counted).toBeGreaterThan(0); // the successor took rows over, and said so
      expect(row.duplicates).toBeLessThanOrEqual(row.counted);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('during sending, ten times in one delivery: nothing lost, duplicates only from messages in flight, counted', async () => {
    await seedProfiles(stack.db, manyProfiles(1200));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 80 }), FAST_FAILOVER);
    await waitForState(handle, 'sending', 60_000);
    let kills = 0;
    while (kills < 10) {
      const before = stack.sink.messages.length;
      await eventually(() => stack.sink.messages.length >= Math.min(before + 40, 1200) || kills >= 10, 120_000, 'sending progress');
      if (stack.sink.messages.length >= 1150) break;
      await kill();
      kills++;
    }
    expect(kills).toBe(10);
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ toDeliver: 1200, sent: 1200, failed: 0, pending: 0 });
    const row = await account(stack, handle.workflowId, 'worker SIGKILL during sending', kills);
    expect(row.lost).toBe(0);
    expect(row.received).toBe(1200);
    expect(row.duplicates).toBeLessThanOrEqual(row.counted);
    expect(kpis.possibleDuplicates).toBe(row.counted);
  });

  it('during a wave and between waves: no wave goes early, nothing lost, duplicates only from messages in flight', async () => {
    await seedProfiles(stack.db, manyProfiles(300));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 60, waves: { count: 3, every: '4s' } }), FAST_FAILOVER);
    await eventually(() => stack.sink.messages.length >= 40, 60_000, 'wave 1 under way');
    await kill(); // in wave 1
    await eventually(async () => (await handle.query(statusQuery).catch(() => undefined))?.waves?.[0]?.state === 'sent', 60_000, 'wave 1 sent');
    await kill(); // on the timer before wave 2
    await eventually(() => stack.sink.messages.length >= 240, 60_000, 'wave 3 under way');
    await kill(); // in wave 3
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ toDeliver: 300, sent: 300, failed: 0, pending: 0 });
    expect((await handle.query(statusQuery)).waves?.map((w) => [w.messages, w.state])).toEqual([[100, 'sent'], [100, 'sent'], [100, 'sent']]);
    // Each wave is its slice of the target in order: the last time any of its messages went, against the next's first.
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId }, orderBy: { id: 'asc' }, select: { sentAt: true } });
    const [w1, w2, w3] = [0, 100, 200].map((from) => rows.slice(from, from + 100).map((r) => r.sentAt!.getTime()));
    expect(Math.min(...w2) - Math.max(...w1)).toBeGreaterThanOrEqual(4000);
    expect(Math.min(...w3) - Math.max(...w2)).toBeGreaterThanOrEqual(4000);
    const row = await account(stack, handle.workflowId, 'worker SIGKILL in a wave, on the timer between waves, and in the last wave', 3);
    expect(row).toMatchObject({ recipients: 300, received: 300, lost: 0 });
    expect(row.duplicates).toBeLessThanOrEqual(row.counted);
  });
});
