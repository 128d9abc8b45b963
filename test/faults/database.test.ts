// Database faults mid-send. The hand-out of messages stops at the first failed write; writes are retried
// (DATABASE_RETRY_SECONDS, here 3 s); an outage longer than that fails the attempt, and the attempt Temporal
// starts next re-queues its rows as possible duplicates: only those can have been sent twice.
// Postgres: the worker's connections are really terminated (pg_terminate_backend), and the database really
// refuses connections for a while. SQLite has no outage to provoke from outside: the recording statement
// fails through a test seam (test/helpers/faulty-database.ts).
import { Client as PgClient } from 'pg';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import { RESERVATION, withRecordingFaults, type FaultyDatabase } from '../helpers/faulty-database';
import { domainThrottles } from '../../store/domain-throttles';
import { TEST_POSTGRES_URL } from '../helpers/paths';
import { account } from './fault-table';

const FAST_FAILOVER = { heartbeatTimeoutSeconds: 3, retryMaxIntervalSeconds: 2 };
const RETRY_BOUND_MS = 3000;
const CONNECTIONS = 3;
/** What one sending attempt may hold in `sending`: a batch claimed, one in flight, two sent and not recorded. */
const HELD_AT_MOST = 4 * Math.min(CONNECTIONS * 4, 40);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('database faults during sending', () => {
  it('three in one delivery (two blips, one outage longer than the retry bound): nothing lost, duplicates within what was counted', async () => {
    let faults: FaultyDatabase | undefined;
    const stack = await startTestStack({
      databaseRetryMs: RETRY_BOUND_MS, smtpMaxConnections: CONNECTIONS,
      ...(TEST_POSTGRES_URL ? {} : { workerDatabase: (db) => (faults = withRecordingFaults(db)).db }),
    });
    try {
      await seedProfiles(stack.db, manyProfiles(600));
      const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }), FAST_FAILOVER);
      const hits: number[] = [];
      for (const [after, outageMs] of [[60, 1500], [200, 1500], [340, RETRY_BOUND_MS + 2000]]) {
        await eventually(() => stack.sink.messages.length >= after, 60_000, `${after} messages sent`);
        if (faults) {
          const before = faults.refused;
          faults.failFor(outageMs);
          await sleep(outageMs + 500);
          hits.push(faults.refused - before);
        } else {
          hits.push(outageMs > RETRY_BOUND_MS ? await refuseConnections(stack, outageMs) : await terminateWhileWriting(stack));
        }
      }
      const { kpis } = await handle.result();
      expect(hits.every((n) => n > 0)).toBe(true); // each fault met a write of the sending
      expect(kpis).toMatchObject({ toDeliver: 600, sent: 600, failed: 0, pending: 0 });
      const row = await account(stack, handle.workflowId, `database fault mid-send (${faults ? 'recording refused: I/O error' : 'connections terminated; refused 5 s'})`, 3);
      expect(row).toMatchObject({ recipients: 600, received: 600, lost: 0, failedWrongly: 0 });
      expect(row.duplicates).toBeLessThanOrEqual(row.counted);
      expect(row.counted).toBeLessThanOrEqual(HELD_AT_MOST); // only the attempt that gave up left rows behind
      expect(kpis.possibleDuplicates).toBe(row.counted);
    } finally {
      await stack.close();
    }
  });
});

describe('database faults on an engine-wide domain cap', () => {
  it('its reservations failing (SQLite) or blocked on a locked row (Postgres): the capped domain waits, the cap holds, nothing lost or doubled', async () => {
    let faults: FaultyDatabase | undefined;
    const stack = await startTestStack({
      databaseRetryMs: RETRY_BOUND_MS, smtpMaxConnections: CONNECTIONS,
      ...(TEST_POSTGRES_URL ? {} : { workerDatabase: (db) => (faults = withRecordingFaults(db, RESERVATION)).db }),
    });
    try {
      const CAP = 10;
      await domainThrottles(stack.db).set('capped.example', CAP);
      await seedProfiles(stack.db, [...Array.from({ length: 60 }, (_, i) => ({ email: `c${i}@capped.example` })), ...manyProfiles(200)]);
      const capped = () => stack.sink.messages.filter((m) => m.to.endsWith('@capped.example')).map((m) => m.receivedAt).sort((a, b) => a - b);
      const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }), FAST_FAILOVER);
      await eventually(() => capped().length >= 10, 60_000, 'the capped domain under way');
      const from = Date.now();
      let hits: number;
      if (faults) {
        const before = faults.refused;
        faults.failFor(3000);
        await sleep(3500);
        hits = faults.refused - before;
      } else hits = await holdThrottleRow(stack, 'capped.example', 3000);
      // What was reserved before the fault is used within about half a second; then the domain waits.
      const during = capped().filter((t) => t > from + 700 && t < from + 3000).length;
      const { kpis } = await handle.result();
      expect(hits).toBeGreaterThan(0); // the fault met reservations
      expect(during).toBe(0);
      expect(kpis).toMatchObject({ toDeliver: 260, sent: 260, failed: 0, pending: 0 });
      const times = capped();
      for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(CAP + 2);
      const row = await account(stack, handle.workflowId, `engine-wide domain cap, its reservations ${faults ? 'refused (I/O error) 3 s' : 'blocked by a row lock 3 s'}`, 1);
      expect(row).toMatchObject({ recipients: 260, received: 260, lost: 0, failedWrongly: 0 });
      expect(row.duplicates).toBeLessThanOrEqual(row.counted);
    } finally {
      await stack.close();
    }
  });
});

/** Holds a domain's DomainThrottle row locked for a while; how many reservations of the worker waited on it. */
async function holdThrottleRow(stack: TestStack, domain: string, ms: number): Promise<number> {
  const locker = new PgClient({ connectionString: stack.dbUrl });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM "DomainThrottle" WHERE "domain" = $1 FOR UPDATE', [domain]);
    const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    return await admin(stack, async (client, database) => {
      let waiting = 0;
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const { rowCount } = await client.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> $2 AND query LIKE '%"DomainThrottle"%'`, [database, lockerPid]);
        waiting = Math.max(waiting, rowCount ?? 0);
        await sleep(100);
      }
      return waiting;
    });
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  }
}

/** The test database's name and an admin connection to the server (not to that database). */
async function admin<T>(stack: TestStack, fn: (client: PgClient, database: string) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client, new URL(stack.dbUrl).pathname.slice(1));
  } finally {
    await client.end();
  }
}

const terminateOthers = (client: PgClient, database: string, except: number[] = []) => client.query(
  `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
   WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND NOT (pid = ANY($2::int[]))`, [database, except]);

/**
 * Holds the sending logs' table until a write of the worker waits on it, then terminates the worker's
 * connections: that write fails mid-statement ("terminating connection due to administrator command").
 */
async function terminateWhileWriting(stack: TestStack): Promise<number> {
  const locker = new PgClient({ connectionString: stack.dbUrl });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE "SendingLog" IN EXCLUSIVE MODE'); // reads go on, writes wait
    const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    return await admin(stack, async (client, database) => {
      await eventually(async () => (await client.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> $2`, [database, lockerPid])).rowCount! > 0, 10_000, 'a write waiting');
      const { rows } = await terminateOthers(client, database, [lockerPid]);
      return Number(rows[0].n);
    });
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  }
}

/** The database refuses every connection for a while, and the worker's are terminated. */
async function refuseConnections(stack: TestStack, ms: number): Promise<number> {
  return admin(stack, async (client, database) => {
    await client.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS false`);
    try {
      const { rows } = await terminateOthers(client, database);
      await sleep(ms);
      return Number(rows[0].n);
    } finally {
      await client.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS true`);
    }
  });
}
