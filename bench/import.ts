// `npx tsx bench/import.ts --rows N [--database-url postgresql://…] [--again] [--key]`: writes a profile CSV of N
// rows (five profile fields, a number, a date and a text attribute), then streams it into an empty database with
// `delivery profiles import`'s code (upsert by address). Prints rows/s and the peak RSS; --again imports the
// same file a second time (every row an update); --key adds a customerId column and matches rows by it.
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { migrate } from '../store/migrate';
import { isPostgres, openDatabase } from '../store/prisma';
import { importProfileFile } from '../client/profile-file';
import { emptyPostgres } from './delivery';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, 'database-url': { type: 'string' }, again: { type: 'boolean', default: false }, key: { type: 'boolean', default: false } } });
const key = values.key ? 'customerId' : undefined;
const N = Number(values.rows);

async function writeCsv(file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write(`email,firstName,lastName,language,country,score,signedUp,city${key ? `,${key}` : ''}\n`);
  const cities = ['Paris', 'Lyon', 'Brussels', 'London', 'Berlin'];
  for (let i = 1; i <= N; i++) {
    const line = `user${i}@example.com,First${i},Last${i},${i % 3 ? 'fr' : 'en'},${i % 2 ? 'FR' : 'BE'},${i % 100},2026-0${1 + (i % 9)}-1${i % 10},${cities[i % 5]}${key ? `,C${i}` : ''}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `import-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'profiles.csv');
  await writeCsv(file);
  const url = values['database-url'] ?? `file:${path.join(dir, 'bench.db')}`;
  await migrate(url);
  const db = await openDatabase(url);
  if (isPostgres(db)) await emptyPostgres(db);
  const passes = values.again ? ['first import (inserts)', 'second import (updates)'] : ['import'];
  for (const pass of passes) {
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
    const report = await importProfileFile(db, file, { mode: 'upsert', key, erasureSecret: 'bench-erasure-secret-0123456789' });
    clearInterval(sampler);
    console.log(`${pass}${key ? ` by ${key}` : ''}: ${report.rows} rows (${report.inserted} added, ${report.updated} updated) in ${report.seconds.toFixed(1)} s, ` +
      `${report.rowsPerSecond} rows/s; peak RSS ${Math.round(peakRss / 2 ** 20)} MB`);
  }
  await db.$disconnect();
  fs.rmSync(file);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
