// Database errors that go away by themselves — a lock held by another writer (SQLite), a connection lost,
// refused or terminated, a server restarting, a serialization conflict (Postgres) — are tried again with
// backoff for a bounded time; any other error fails at once. An outcome already handed to SMTP must never
// be dropped for a blip, and must not be retried forever either.
//
// SQLite allows one writer at a time and better-sqlite3 waits for a lock synchronously, blocking the event
// loop (no heartbeats, no workflow tasks) while it waits: each statement waits at most 250 ms (prisma.ts)
// and a busy write is retried here, asynchronously.

/** How long an operation keeps trying through transient errors (DATABASE_RETRY_SECONDS, default 10 minutes). */
export const DEFAULT_RETRY_FOR_MS = 10 * 60_000;

/** SQLite result codes (with their extended forms), node socket errors, Postgres SQLSTATEs, Prisma codes. */
const TRANSIENT_CODE = new RegExp([
  '^SQLITE_(BUSY|LOCKED|IOERR|FULL|PROTOCOL)', // locks, I/O errors, a full disk being freed
  '^E(CONNRESET|CONNREFUSED|TIMEDOUT|PIPE|AI_AGAIN|HOSTUNREACH|NETUNREACH)$',
  '^08', '^57P0[123]$', '^53300$', '^40001$', '^40P01$', '^55P03$', // connection, shutdown, too many clients, conflicts, lock timeout
  '^P10(01|02|08|17)$', '^P20(24|28|34)$', // unreachable, timed out, closed, pool timeout, transaction closed, write conflict
  '^(ConnectionClosed|SocketTimeout|DatabaseNotReachable|TooManyConnections|TransactionWriteConflict|TransactionAlreadyClosed)$',
].join('|'));
const TRANSIENT_MESSAGE = /database is locked|disk I\/O error|connection terminated|connection error and is not queryable|terminating connection|server closed the connection|connection (was )?closed|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)|is not currently accepting connections/i;

interface ErrorLike {
  code?: unknown;
  kind?: unknown;
  originalCode?: unknown;
  message?: unknown;
  originalMessage?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: unknown } };
}

/** True for an error that the same operation, tried again a little later, may not meet. */
export function isTransient(e: unknown): boolean {
  const seen = new Set<unknown>();
  const look = (x: unknown): boolean => {
    if (!x || typeof x !== 'object' || seen.has(x)) return false;
    seen.add(x);
    const err = x as ErrorLike;
    for (const code of [err.code, err.originalCode, err.kind]) if (typeof code === 'string' && TRANSIENT_CODE.test(code)) return true;
    for (const text of [err.message, err.originalMessage]) if (typeof text === 'string' && TRANSIENT_MESSAGE.test(text)) return true;
    return look(err.meta?.driverAdapterError?.cause) || look(err.meta?.driverAdapterError) || look(err.cause);
  };
  return look(e);
}

const REFUSED_STATEMENT = /expression tree is too large|too many SQL variables|parser stack overflow|too many terms in compound SELECT|string or blob too big|LIKE or GLOB pattern too complex|stack depth limit exceeded|statement is too complex|too many (arguments|elements)/i;

/**
 * True for an error that says the statement itself is more than the database takes (too deep, too large): the
 * same statement will fail again, so retrying it would loop. Postgres: class 54 (program limit exceeded).
 */
export function isStatementRefused(e: unknown): boolean {
  if (isTransient(e)) return false;
  const seen = new Set<unknown>();
  const look = (x: unknown): boolean => {
    if (!x || typeof x !== 'object' || seen.has(x)) return false;
    seen.add(x);
    const err = x as ErrorLike;
    for (const code of [err.code, err.originalCode]) if (typeof code === 'string' && /^54/.test(code)) return true;
    for (const text of [err.message, err.originalMessage]) if (typeof text === 'string' && REFUSED_STATEMENT.test(text)) return true;
    return look(err.meta?.driverAdapterError?.cause) || look(err.meta?.driverAdapterError) || look(err.cause);
  };
  return look(e);
}

/** What the caller learns while an operation goes through transient errors. */
export interface TransientRetry {
  /** How long to keep trying (default DEFAULT_RETRY_FOR_MS). */
  forMs?: number;
  /** The operation met its first transient error (it is being retried). */
  onFailing?(e: unknown): void;
  /** An operation that had failed has ended: recovered, or given up. */
  onSettled?(): void;
}

export async function retryTransient<T>(operation: () => Promise<T>, retry: TransientRetry = {}): Promise<T> {
  const until = Date.now() + (retry.forMs ?? DEFAULT_RETRY_FOR_MS);
  let failing = false;
  try {
    for (let pause = 20; ; pause = Math.min(pause * 2, 1000)) {
      try {
        return await operation();
      } catch (e) {
        if (!isTransient(e) || Date.now() + pause > until) throw e;
        if (!failing) retry.onFailing?.(e);
        failing = true;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  } finally {
    if (failing) retry.onSettled?.();
  }
}

/** The same methods, each retried through transient errors. */
export function transientTolerant<T extends Record<string, (...args: never[]) => Promise<unknown>>>(methods: T, retry?: TransientRetry): T {
  return Object.fromEntries(Object.entries(methods).map(([name, fn]) => [name, (...args: never[]) => retryTransient(() => fn(...args), retry)])) as T;
}

/**
 * Whether the database answers, as seen by one sending attempt: no message is handed to SMTP while any of
 * its database operations is going through errors, so an outage cannot pile up messages sent and not recorded.
 */
export function databaseHealth(forMs?: number) {
  let failing = 0;
  const waiters: Array<() => void> = [];
  const retry: TransientRetry = {
    forMs,
    onFailing: () => void failing++,
    onSettled: () => {
      failing--;
      if (failing === 0) for (const wake of waiters.splice(0)) wake();
    },
  };
  return {
    retry,
    get healthy() {
      return failing === 0;
    },
    /** Resolves once no operation is failing (at once when none is). */
    recovered(): Promise<void> {
      return failing === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
    },
  };
}
