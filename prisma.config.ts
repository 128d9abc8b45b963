// Prisma CLI configuration: the JavaScript schema engine with a driver adapter,
// so generate / migrate deploy need no native engine download.
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { DATA_DIR, databaseUrl } from './store/database-url';

// schema.prisma reads env("DATABASE_URL"); give it the embedded default when unset.
process.env.DATABASE_URL ??= databaseUrl();
fs.mkdirSync(DATA_DIR, { recursive: true });

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    return new PrismaBetterSQLite3({ url: databaseUrl() });
  },
});
