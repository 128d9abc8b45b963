// Database errors that pass (locks, lost connections, restarts, conflicts) are retried for a bounded time;
// others fail at once. The error shapes are those Prisma 6 and its adapters really throw (seen on SQLite and
// Postgres; test/integration/sending-log-store.test.ts provokes them on a real server).
import { databaseHealth, isStatementRefused, isTransient, retryTransient } from '../../store/transient';

const prismaRaw = (originalCode: string, originalMessage: string, kind = 'postgres') => Object.assign(new Error(`Raw query failed. Code: \`${originalCode}\``), {
  name: 'PrismaClientKnownRequestError', code: 'P2010',
  meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { originalCode, originalMessage, kind } } },
});

describe('transient database errors', () => {
  it.each<[string, unknown]>([
    ['SQLite busy', prismaRaw('SQLITE_BUSY', 'database is locked', 'SocketTimeout')],
    ['SQLite I/O error', Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' })],
    ['Postgres backend terminated', prismaRaw('57P01', 'terminating connection due to administrator command')],
    ['pg client broken in a transaction', new Error('Client has encountered a connection error and is not queryable')],
    ['connection terminated', new Error('Connection terminated unexpectedly')],
    ['socket reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['serialization failure', prismaRaw('40001', 'could not serialize access')],
    ['too many clients', prismaRaw('53300', 'sorry, too many clients already')],
    ['server unreachable (Prisma)', Object.assign(new Error("Can't reach database server"), { code: 'P1001' })],
  ])('%s is transient', (_name, e) => expect(isTransient(e)).toBe(true));

  it.each<[string, unknown]>([
    ['a missing table', prismaRaw('SQLITE_ERROR', 'no such table: Nope', 'TableDoesNotExist')],
    ['a unique violation', prismaRaw('23505', 'duplicate key value violates unique constraint')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['nothing', undefined],
  ])('%s is not', (_name, e) => expect(isTransient(e)).toBe(false));

  it.each<[string, unknown, boolean]>([
    ['SQLite, an expression too deep', prismaRaw('SQLITE_ERROR', 'Expression tree is too large (maximum depth 1000)', 'GenericJs'), true],
    ['SQLite, too many variables', prismaRaw('SQLITE_ERROR', 'too many SQL variables', 'GenericJs'), true],
    ['Postgres, stack depth limit exceeded', prismaRaw('54001', 'stack depth limit exceeded'), true],
    ['Postgres, a backend terminated', prismaRaw('57P01', 'terminating connection due to administrator command'), false],
    ['a missing table', prismaRaw('SQLITE_ERROR', 'no such table: Nope', 'TableDoesNotExist'), false],
  ])('%s: a statement the database refuses (retrying would loop): %s', (_name, e, refused) => expect(isStatementRefused(e)).toBe(refused));

  it('retries a transient error until it passes, telling when it fails and when it is over', async () => {
    const events: string[] = [];
    let calls = 0;
    const result = await retryTransient(async () => {
      if (++calls < 4) throw new Error('Connection terminated unexpectedly');
      return 'done';
    }, { onFailing: () => events.push('failing'), onSettled: () => events.push('settled') });
    expect(result).toBe('done');
    expect(calls).toBe(4);
    expect(events).toEqual(['failing', 'settled']);
  });

  it('gives up after its bound, and never retries other errors', async () => {
    let calls = 0;
    const t = Date.now();
    await expect(retryTransient(async () => {
      calls++;
      throw new Error('database is locked');
    }, { forMs: 300 })).rejects.toThrow('database is locked');
    expect(Date.now() - t).toBeLessThan(2000);
    expect(calls).toBeGreaterThan(2);
    calls = 0;
    await expect(retryTransient(async () => {
      calls++;
      throw new Error('no such column: x');
    })).rejects.toThrow('no such column');
    expect(calls).toBe(1);
  });

  it('reports the database unhealthy while any operation is going through errors', async () => {
    const health = databaseHealth();
    expect(health.healthy).toBe(true);
    let fail = true;
    const op = retryTransient(async () => {
      if (fail) throw new Error('database is locked');
    }, health.retry);
    await new Promise((r) => setTimeout(r, 30));
    expect(health.healthy).toBe(false);
    const recovered = health.recovered();
    fail = false;
    await op;
    await recovered;
    expect(health.healthy).toBe(true);
  });
});
