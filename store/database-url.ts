import path from 'node:path';

/** The project's folder, whether this runs from the sources (.ts through tsx) or compiled into dist/ (`npm run build`). */
export const PROJECT_ROOT = path.resolve(__dirname, path.extname(__filename) === '.js' ? '../..' : '..');

/** Where data of the embedded defaults lives (SQLite file, Temporal DB, captured emails). */
export const DATA_DIR = path.resolve(process.env.DATA_DIR ?? path.join(PROJECT_ROOT, '.data'));

/** DATABASE_URL, or the embedded SQLite file under the data folder. */
export function databaseUrl(): string {
  return process.env.DATABASE_URL ?? `file:${path.join(DATA_DIR, 'deliveries.db')}`;
}

export type DatabaseKind = 'sqlite' | 'postgres';

export function databaseKind(url: string = databaseUrl()): DatabaseKind {
  if (url.startsWith('file:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error(`DATABASE_URL must be file:<path> (SQLite) or postgresql://user:password@host:port/database (got "${url.replace(/\/\/.*@/, '//***@')}")`);
}
