// Prisma client factory: the embedded SQLite file through the better-sqlite3 driver adapter.
import fs from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from './generated/client';
import { databaseUrl } from './database-url';

export type Database = PrismaClient;

export async function openDatabase(url: string = databaseUrl()): Promise<Database> {
  if (!url.startsWith('file:')) {
    throw new Error(`DATABASE_URL "${url.replace(/\/\/.*@/, '//***@')}" is not supported yet: use file:<path> (SQLite)`);
  }
  fs.mkdirSync(path.dirname(url.slice('file:'.length)), { recursive: true });
  // Several processes (worker, CLI import) share the file: wait for locks instead of failing at once.
  const db = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url, timeout: 30_000 }) });
  // WAL lets readers (KPIs, CLI) proceed while the worker writes sending logs.
  await db.$queryRawUnsafe('PRAGMA journal_mode = WAL');
  await db.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
  return db;
}
