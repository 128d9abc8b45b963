// Prisma client factory: SQLite (embedded default, better-sqlite3 adapter) or Postgres (pg adapter).
// Both generated clients come from the same models, so the rest of the code sees one Database type.
import fs from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/sqlite/client';
import { PrismaClient as PostgresPrismaClient } from './generated/postgres/client';
import { databaseKind, databaseUrl } from './database-url';

export type Database = PrismaClient;

const postgresClients = new WeakSet<object>();
/** Some statements differ by database (row locking). */
export function isPostgres(db: Database): boolean {
  return postgresClients.has(db);
}

export async function openDatabase(url: string = databaseUrl()): Promise<Database> {
  if (databaseKind(url) === 'postgres') {
    // JIT off: the statements here are short and many (a page of 1,000 profiles); Postgres would compile each one
    // whose estimated cost passes jit_above_cost (an audience's subqueries do), for more time than it runs:
    // 1M recipients prepared in 49 s instead of 76 s (BENCHMARKS.md).
    const db = new PostgresPrismaClient({ adapter: new PrismaPg({ connectionString: url, options: '-c jit=off' }) });
    postgresClients.add(db);
    return db as unknown as Database;
  }
  fs.mkdirSync(path.dirname(url.slice('file:'.length)), { recursive: true });
  // Several processes (worker, CLI import) share the file. A statement waits for a lock at most 250 ms
  // (synchronously: see busy.ts); writes on the hot path retry asynchronously after that.
  const db = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url, timeout: 250 }) });
  // WAL lets readers (KPIs, CLI) proceed while the worker writes sending logs.
  await db.$queryRawUnsafe('PRAGMA journal_mode = WAL');
  await db.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
  return db;
}
