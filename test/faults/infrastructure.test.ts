import Database from 'better-sqlite3';
import { Client as PgClient } from 'pg';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { account } from './fault-table';
import { statusQuery } from '../../workflows/messages';

const FAST_FAILOVER = { heartbeatTimeoutSeconds: 3, retryMaxIntervalSeconds: 2 };
const QUICK_RETRIES = { validitySeconds: 600, firstDelaySeconds: 1, maxDelaySeconds: 2 };

describe('infrastructure faults during sending', () => {
  it('the Temporal server killed and restarted on its database file', async () => {
    const stack = await startTestStack({ persistentServer: true });
    try {
      await seedProfiles(stack.db, manyProfiles(400));
      const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }), FAST_FAILOVER);
      await eventually(() => stack.sink.messages.length >= 80, 60_000, '80 messages sent');
      await stack.crashServer(3000);
      const { kpis } = await handle.result();
      expect(kpis).toMatchObject({ toDeliver: 400, sent: 400, pending: 0 });
      const row = await account(stack, handle.workflowId, 'Temporal server SIGKILL + restart (3 s down)', 1);
      expect(row).toMatchObject({ recipients: 400, received: 400, lost: 0 });
      expect(row.duplicates).toBeLessThanOrEqual(row.counted);
    } finally {
      await stack.close();
    }
  });

  describe('SMTP relay', () => {
    it('down for 15 s: sending waits and resumes, nothing lost or doubled', async () => {
      const stack = await startTestStack();
      try {
        await seedProfiles(stack.db, manyProfiles(300));
        const handle = await stack.start(baseSpec({ messagesPerSecond: 50, retries: QUICK_RETRIES }), FAST_FAILOVER);
        await eventually(() => stack.sink.messages.length >= 60, 60_000, '60 messages sent');
        await stack.sink.goDown();
        const atOutage = stack.sink.messages.length;
        await new Promise((r) => setTimeout(r, 15_000));
        expect(stack.sink.messages.length).toBe(atOutage);
        await stack.sink.comeBack();
        const { kpis } = await handle.result();
        expect(kpis).toMatchObject({ toDeliver: 300, sent: 300, failed: 0, pending: 0 });
        const row = await account(stack, handle.workflowId, 'SMTP relay down for 15 s', 1);
        expect(row).toMatchObject({ recipients: 300, received: 300, lost: 0, duplicates: 0 });
      } finally {
        await stack.close();
      }
    });

    it('slow (1.5 s per reply): every message once', async () => {
      const stack = await startTestStack({ replyDelayMs: 1500, smtpMaxConnections: 5 });
      try {
        await seedProfiles(stack.db, manyProfiles(40));
        const handle = await stack.start(baseSpec(), FAST_FAILOVER);
        const { kpis } = await handle.result();
        expect(kpis).toMatchObject({ sent: 40, failed: 0 });
        const row = await account(stack, handle.workflowId, 'SMTP relay slow (1.5 s a reply)', 40);
        expect(row).toMatchObject({ recipients: 40, received: 40, lost: 0, duplicates: 0 });
      } finally {
        await stack.close();
      }
    });

    /** Each fifth recipient, the first time only. */
    const onceForEveryFifth = () => {
      const hit = new Set<string>();
      const pick = (address: string) => {
        if (Number(/\d+/.exec(address)?.[0]) % 5 !== 0 || hit.has(address)) return false;
        hit.add(address);
        return true;
      };
      return { pick, hit };
    };

    it('dropping connections when DATA starts (before any content): the relay\'s fault, given back, every message once', async () => {
      const dropped = onceForEveryFifth();
      const stack = await startTestStack({ dropConnection: dropped.pick });
      try {
        await seedProfiles(stack.db, manyProfiles(100));
        const handle = await stack.start(baseSpec({ retries: QUICK_RETRIES }), FAST_FAILOVER);
        const { kpis } = await handle.result();
        expect(kpis).toMatchObject({ sent: 100, failed: 0, pending: 0, possibleDuplicates: 0 });
        expect(dropped.hit.size).toBe(20);
        expect(await stack.db.sendingLog.count({ where: { softFailures: { gt: 0 } } })).toBe(0); // not the recipients' failures
        expect(await stack.db.quarantine.count()).toBe(0);
        const row = await account(stack, handle.workflowId, 'SMTP connection dropped when DATA starts', dropped.hit.size);
        expect(row).toMatchObject({ recipients: 100, received: 100, lost: 0, duplicates: 0, counted: 0 });
      } finally {
        await stack.close();
      }
    });

    it('replies lost after the content went out (the relay took the message): retried, every duplicate counted', async () => {
      const lost = onceForEveryFifth();
      const stack = await startTestStack({ loseReply: lost.pick });
      try {
        await seedProfiles(stack.db, manyProfiles(100));
        const handle = await stack.start(baseSpec({ retries: QUICK_RETRIES }), FAST_FAILOVER);
        const { kpis } = await handle.result();
        expect(kpis).toMatchObject({ sent: 100, failed: 0, pending: 0, possibleDuplicates: 20 });
        expect(await stack.db.quarantine.count()).toBe(0); // nobody's address is at fault
        const row = await account(stack, handle.workflowId, 'SMTP reply lost after the content went out', lost.hit.size);
        // The relay had taken each of them: sending again was a duplicate, and each one was counted.
        expect(row).toMatchObject({ recipients: 100, received: 100, lost: 0, duplicates: 20, counted: 20, failedWrongly: 0, quarantinedWrongly: 0 });
      } finally {
        await stack.close();
      }
    });
  });

  it('the workflow terminated in Temporal while sending (Web UI: More Actions → Terminate): the worker reconciles it', async () => {
    const stack = await startTestStack({ reconcileEveryMs: 2000 });
    try {
      await seedProfiles(stack.db, manyProfiles(300));
      const handle = await stack.start(baseSpec({ messagesPerSecond: 50 }), FAST_FAILOVER);
      await eventually(() => stack.sink.messages.length >= 60, 60_000, '60 messages sent');
      await handle.terminate('ops clicked Terminate');
      const latest = stack.client.workflow.getHandle(handle.workflowId);
      await eventually(async () => (await latest.describe()).runId !== handle.firstExecutionRunId, 30_000, 'the worker starting a reconciling run');
      const { state, kpis } = await latest.result();
      expect(state).toBe('terminated');
      expect((await latest.query(statusQuery)).situation).toMatch(/^Terminated in Temporal \(run .* terminated at .*: "ops clicked Terminate"\): \d+ sent, \d+ cancelled and never sent$/);
      const cancelled = await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, status: 'cancelled' } });
      expect(kpis).toMatchObject({ toDeliver: 300, pending: 0, cancelled });
      expect(kpis.sent + cancelled).toBe(300);
      const row = await account(stack, handle.workflowId, 'workflow terminated in Temporal while sending (reconciled by the worker)', 1);
      expect(row).toMatchObject({ recipients: 300, received: kpis.sent, lost: 0, duplicates: 0 });
    } finally {
      await stack.close();
    }
  });

  it('the database locked for 6 s: writes wait, heartbeats go on, nothing lost or doubled', async () => {
    const stack = await startTestStack();
    try {
      await seedProfiles(stack.db, manyProfiles(300));
      const handle = await stack.start(baseSpec({ messagesPerSecond: 60 }), FAST_FAILOVER);
      await eventually(() => stack.sink.messages.length >= 60, 60_000, '60 messages sent');
      await holdLock(stack.dbUrl, 6000);
      const { kpis } = await handle.result();
      expect(kpis).toMatchObject({ sent: 300, failed: 0, possibleDuplicates: 0 });
      const row = await account(stack, handle.workflowId, 'database locked for 6 s', 1);
      expect(row).toMatchObject({ recipients: 300, received: 300, lost: 0, duplicates: 0 });
    } finally {
      await stack.close();
    }
  });
});

/** Another connection takes the database's write lock (SQLite) or the sending logs' table lock (Postgres). */
async function holdLock(url: string, ms: number): Promise<void> {
  if (url.startsWith('file:')) {
    const db = new Database(url.slice('file:'.length));
    db.exec('BEGIN EXCLUSIVE');
    await new Promise((r) => setTimeout(r, ms));
    db.exec('COMMIT');
    db.close();
    return;
  }
  const client = new PgClient({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE "SendingLog" IN ACCESS EXCLUSIVE MODE');
  await new Promise((r) => setTimeout(r, ms));
  await client.query('COMMIT');
  await client.end();
}

describe('operator faults', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());

  it('pause and resume 20 times in a row during sending: every message once', async () => {
    await seedProfiles(stack.db, manyProfiles(1500));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 50 }));
    await waitForState(handle, 'sending');
    let cycles = 0;
    for (; cycles < 20; cycles++) {
      await handle.signal('pause');
      await waitForState(handle, 'paused', 15_000);
      const whilePaused = stack.sink.messages.length;
      await new Promise((r) => setTimeout(r, 200));
      expect(stack.sink.messages.length).toBe(whilePaused); // nothing sent while paused
      await handle.signal('resume');
      await waitForState(handle, 'sending', 15_000);
      await new Promise((r) => setTimeout(r, 150));
    }
    const { kpis } = await handle.result();
    expect(cycles).toBe(20);
    expect(kpis).toMatchObject({ sent: 1500, pending: 0 });
    const row = await account(stack, handle.workflowId, 'pause/resume ×20 during sending', cycles);
    expect(row).toMatchObject({ recipients: 1500, received: 1500, lost: 0, duplicates: 0 });
  });

  it('stop during a pause: nothing more is sent, the rest is cancelled', async () => {
    await stack.db.profile.deleteMany();
    stack.sink.messages.length = 0;
    await seedProfiles(stack.db, manyProfiles(300, 'stop.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 50 }));
    await eventually(() => stack.sink.messages.length >= 40, 60_000, '40 messages sent');
    await handle.signal('pause');
    await waitForState(handle, 'paused');
    const atPause = stack.sink.messages.length;
    await handle.cancel();
    await waitForState(handle, 'stopped');
    await new Promise((r) => setTimeout(r, 1000));
    expect(stack.sink.messages.length).toBe(atPause);
    const rows = await stack.db.sendingLog.groupBy({ by: ['status'], where: { deliveryId: handle.workflowId }, _count: { _all: true } });
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
    expect(byStatus).toEqual({ sent: atPause, cancelled: 300 - atPause });
    const row = await account(stack, handle.workflowId, 'stop during a pause', 1);
    expect(row).toMatchObject({ lost: 0, duplicates: 0 });
  });
});
