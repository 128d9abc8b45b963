// `npm run db:migrate`: applies the committed migrations to DATABASE_URL.
// SQLite: `prisma migrate deploy`. Postgres: Prisma 6's JavaScript schema engine cannot read a
// Postgres catalog through adapter-pg (prisma/orm#27403, "Column type 'name' could not be
// deserialized"), so the same migration files are applied here, recorded in Prisma's own
// _prisma_migrations table so that `prisma migrate deploy` can take over once that is fixed.
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { databaseKind, databaseUrl, PROJECT_ROOT } from './database-url';

export async function migrate(url: string = databaseUrl()): Promise<string[]> {
  if (databaseKind(url) === 'sqlite') {
    execFileSync(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], {
      cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'inherit'],
    });
    return [];
  }
  return migratePostgres(url);
}

async function migratePostgres(url: string): Promise<string[]> {
  const dir = path.join(PROJECT_ROOT, 'prisma', 'postgres', 'migrations');
  const names = fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isDirectory()).sort();
  const client = new Client({ connectionString: url });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    // One migrator at a time (several workers may start together).
    await client.query('SELECT pg_advisory_lock(72707369)');
    const done = new Set((await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    )).rows.map((r) => r.migration_name));
    for (const name of names.filter((n) => !done.has(n))) {
      const sql = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ($1, $2, now(), $3, 1)',
          [randomUUID(), createHash('sha256').update(sql).digest('hex'), name],
        );
        await client.query('COMMIT');
        applied.push(name);
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(e as Error).message}`);
      }
    }
  } finally {
    await client.end();
  }
  return applied;
}

if (require.main === module) {
  migrate().then(
    (applied) => console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database schema up to date'),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
