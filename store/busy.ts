// SQLite allows one writer at a time, and better-sqlite3 waits for a lock synchronously, blocking the
// event loop (no heartbeats, no workflow tasks) for as long as it waits. So each statement waits only
// briefly, and a write that found the database busy is retried here, asynchronously, until it goes
// through: an outcome already sent to SMTP must never be dropped for a lock.

const RETRY_FOR_MS = 15 * 60_000;

export function isBusy(e: unknown): boolean {
  const err = e as { code?: string; message?: string; meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } };
  return err?.meta?.driverAdapterError?.cause?.originalCode === 'SQLITE_BUSY' || /SQLITE_BUSY|database is locked/i.test(String(err?.message ?? ''));
}

export async function whileBusy<T>(operation: () => Promise<T>, retryForMs = RETRY_FOR_MS): Promise<T> {
  const until = Date.now() + retryForMs;
  for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
    try {
      return await operation();
    } catch (e) {
      if (!isBusy(e) || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/** The same methods, each retried while the database is busy. */
export function busyTolerant<T extends Record<string, (...args: never[]) => Promise<unknown>>>(methods: T): T {
  return Object.fromEntries(Object.entries(methods).map(([name, fn]) => [name, (...args: never[]) => whileBusy(() => fn(...args))])) as T;
}

/** SQLite (as built for better-sqlite3) caps bound parameters: long IN lists go in slices. */
export const IN_LIST_MAX = 500;

export async function inSlices<V, R>(values: V[], query: (slice: V[]) => Promise<R[]>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < values.length; i += IN_LIST_MAX) results.push(...(await query(values.slice(i, i + IN_LIST_MAX))));
  return results;
}
