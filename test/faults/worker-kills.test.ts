import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { statusQuery } from '../../workflows/messages';
import { clearData, baseSpec, eventually, manyProfiles, seedManyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { account } from './fault-table';

const FAST_FAILOVER = { heartbeatTimeoutSeconds: 2, retryMaxIntervalSeconds: 2 };

describe('worker SIGKILL', () => {
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

  it('during sending, ten times in one delivery: nothing lost, duplicates only from messages in flight, counted', async () => {
    await seedProfiles(stack.db, manyProfiles(1200));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }), FAST_FAILOVER);
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
    expect(kpis.resentAfterCrash).toBe(row.counted);
  });
});
