// Prisma CLI configuration: the JavaScript schema engine with a driver adapter, so generate and
// migrate deploy need no native engine download. DATABASE_URL picks SQLite (default) or Postgres.
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { DATA_DIR, databaseKind, databaseUrl } from './store/database-url';

// schema.prisma reads env("DATABASE_URL"); give it the embedded default when unset.
process.env.DATABASE_URL ??= databaseUrl();
const url = process.env.DATABASE_URL;
const postgres = databaseKind(url) === 'postgres';
if (!postgres) fs.mkdirSync(DATA_DIR, { recursive: true });
const folder = postgres ? path.join('prisma', 'postgres') : 'prisma';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(folder, 'schema.prisma'),
  migrations: { path: path.join(folder, 'migrations') },
  async adapter() {
    return postgres ? new PrismaPg({ connectionString: url }) : new PrismaBetterSQLite3({ url });
  },
});
