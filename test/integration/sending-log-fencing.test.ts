// Fencing of a send attempt's writes, on the real database (SQLite, and Postgres with TEST_DATABASE_URL): an
// attempt whose rows were taken over changes none of them, and learns it; a retry after an ambiguous commit
// counts its own rows as recorded; outcomes update the quarantine of the rows really recorded only.
import { Client as PgClient } from 'pg';
import { quarantine } from '../../store/quarantine';
import { isTransient } from '../../store/transient';
import { preparationLogs, sendingLogs } from '../../store/sending-logs';
import { openDatabase, type Database } from '../../store/prisma';
import { freshDatabase } from '../helpers/stack';
import { TEST_POSTGRES_URL } from '../helpers/paths';

describe('sending-log store: fenced writes of a send attempt', () => {
  let db: Database;
  let url: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    ({ url, drop } = fresh);
    db = await openDatabase(url);
  });
  afterAll(async () => {
    await db?.$disconnect();
    await drop?.();
  });

  const prepare = async (deliveryId: string, n: number) => {
    await preparationLogs(db).insert(Array.from({ length: n }, (_, i) => ({
      deliveryId, profileId: i + 1, email: `user${i + 1}@example.com`, status: 'pending' as const, personalization: '{}',
    })));
  };
  const statuses = async (deliveryId: string) => (await db.sendingLog.findMany({ where: { deliveryId }, orderBy: { id: 'asc' } }))
    .map((r) => `${r.email.split('@')[0]}:${r.status}:${r.claim ?? '-'}${r.possibleDuplicate ? ':dup' : ''}`);

  it('a stale attempt records, gives back and defers nothing of rows its successor took over', async () => {
    const logs = sendingLogs(db);
    await prepare('d-fence', 4);
    const stale = await logs.claim('d-fence', 'r1/0/1/stale', 4);
    expect(stale).toHaveLength(4);
    // The server gave the attempt up: its successor (attempt 2) re-queues its rows and claims two of them.
    expect(await logs.requeueInFlight('d-fence', { round: 'r1', lane: 0, attempt: 2 })).toBe(4);
    expect((await logs.claim('d-fence', 'r1/0/2/next', 2)).map((r) => r.id)).toEqual([stale[0].id, stale[1].id]);
    const before = await statuses('d-fence');

    const recorded = await logs.record('r1/0/1/stale', [
      { id: stale[0].id, email: stale[0].email, status: 'sent' },
      { id: stale[2].id, email: stale[2].email, status: 'failed', failureType: 'hard', reason: 'user unknown (550)' },
      { id: stale[3].id, email: stale[3].email, status: 'retry', retryAt: new Date(), reason: 'mailbox full (452)' },
    ]);
    await logs.release('r1/0/1/stale', [stale[1].id]);
    await logs.defer('r1/0/1/stale', [{ id: stale[1].id, until: new Date() }]);
    expect(await statuses('d-fence')).toEqual(before);
    expect(recorded.applied.size).toBe(0);
    expect(recorded.lost.sort()).toEqual([stale[0].id, stale[2].id, stale[3].id].sort());
    expect(before).toEqual(['user1:sending:r1/0/2/next:dup', 'user2:sending:r1/0/2/next:dup', 'user3:pending:-:dup', 'user4:pending:-:dup']);
  });

  it('the owner settles its rows and keeps its claim on them; a retry of the same write finds them recorded', async () => {
    const logs = sendingLogs(db);
    await prepare('d-own', 3);
    const rows = await logs.claim('d-own', 'r2/0/1/own', 3);
    const outcomes = [
      { id: rows[0].id, email: rows[0].email, status: 'sent' as const },
      { id: rows[1].id, email: rows[1].email, status: 'retry' as const, retryAt: new Date(Date.now() + 60_000), reason: 'unreachable (connection lost after the message was sent)', possibleDuplicate: true },
    ];
    expect(await logs.record('r2/0/1/own', outcomes)).toEqual({ applied: new Set([rows[0].id, rows[1].id]), lost: [] });
    // the same write again, as after a commit whose reply was lost: nothing changes, nothing is lost
    expect(await logs.record('r2/0/1/own', outcomes)).toEqual({ applied: new Set([rows[0].id, rows[1].id]), lost: [] });
    await logs.release('r2/0/1/own', [rows[2].id]);
    expect(await statuses('d-own')).toEqual(['user1:sent:r2/0/1/own', 'user2:pending:r2/0/1/own:dup', 'user3:pending:r2/0/1/own']);
    expect(await db.sendingLog.findUnique({ where: { id: rows[1].id } })).toMatchObject({ softFailures: 1, failureType: 'soft' });
    expect(await logs.sendingCounts('d-own')).toMatchObject({ sent: 1, possibleDuplicates: 1 });
  });

  it('gives back rows left claimed under an attempt that knows none of them (a claim whose reply was lost)', async () => {
    const logs = sendingLogs(db);
    await prepare('d-orphan', 2);
    await logs.claim('d-orphan', 'r3/0/1/lost-reply', 2); // the attempt never learnt it claimed these
    expect(await logs.releaseOrphans('d-orphan', 'r3/0/1/lost-reply')).toBe(2);
    expect((await logs.claim('d-orphan', 'r3/0/1/lost-reply', 5)).map((r) => r.email)).toEqual(['user1@example.com', 'user2@example.com']);
  });

  it('a success makes a quarantined address valid again, unless the error came after the message was accepted', async () => {
    const errorAt = new Date(Date.now() - 60_000);
    for (const address of ['back@example.com', 'own-bounce@example.com']) {
      await db.quarantine.create({ data: { address, status: 'quarantined', failureType: 'hard', reason: 'user unknown', errorCount: 1, quarantinedAt: errorAt, lastErrorAt: errorAt, deliveryId: 'd' } });
    }
    await quarantine(db).recordSuccesses(['Back@Example.com'], new Date());
    expect(await db.quarantine.findUnique({ where: { address: 'back@example.com' } })).toMatchObject({ status: 'valid', errorCount: 0, quarantinedAt: null });
    // accepted before its own bounce was applied: the success recorded afterwards does not lift the quarantine
    await quarantine(db).recordSuccesses(['own-bounce@example.com'], new Date(errorAt.getTime() - 1000));
    expect(await db.quarantine.findUnique({ where: { address: 'own-bounce@example.com' } })).toMatchObject({ status: 'quarantined', errorCount: 1 });
  });

  it('knows the real errors of a lost database connection as transient', async () => {
    if (!TEST_POSTGRES_URL) {
      // SQLite: another connection holds the write lock
      const Sqlite = (await import('better-sqlite3')).default;
      const lock = new Sqlite(url.slice('file:'.length));
      lock.exec('BEGIN EXCLUSIVE');
      const error = await db.$executeRaw`UPDATE "SendingLog" SET "softFailures" = 0`.catch((e: unknown) => e);
      lock.exec('COMMIT');
      lock.close();
      expect(isTransient(error)).toBe(true);
      return;
    }
    // Postgres: the backend running the statement is terminated
    const running = db.$queryRaw`SELECT pg_sleep(2)`.catch((e: unknown) => e);
    const admin = new PgClient({ connectionString: url });
    await admin.connect();
    await new Promise((r) => setTimeout(r, 300));
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'SELECT pg_sleep%'`);
    await admin.end();
    const error = await running;
    expect(error).toBeInstanceOf(Error);
    expect(isTransient(error)).toBe(true);
  });
});
