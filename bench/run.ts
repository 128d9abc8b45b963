// `npm run bench -- --profiles N [--connections 20] [--database-url postgresql://…]`
// One delivery through the real stack (dev server, worker process, database) to a separate SMTP sink
// process, then the same messages blasted straight from nodemailer's pool to the same sink (baseline).
// Prints the figures and appends them to BENCHMARKS.md.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { Client, Connection } from '@temporalio/client';
import { startDelivery } from '../client/deliveries';
import { freePort, startDevServer } from '../stack/dev-server';
import { temporalCliPath } from '../stack/temporal-cli';
import { migrate } from '../store/migrate';
import { openDatabase } from '../store/prisma';
import { seedNumberedProfiles } from '../store/profiles';
import { statusQuery } from '../workflows/messages';

const ROOT = path.resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    'baseline-max': { type: 'string', default: '100000' },
  },
});
const N = Number(values.profiles);
const CONNECTIONS = Number(values.connections);
const HTML = `<html><body><h1>Hello {{firstName}}</h1>${'<p>Our new catalogue is out: lamps, chairs and tables for every room of the house.</p>'.repeat(55)}<a href="https://shop.example/unsubscribe">Unsubscribe</a></body></html>`;

async function main(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(ROOT, '.data', 'bench', stamp);
  fs.mkdirSync(dir, { recursive: true });
  const dbUrl = values['database-url'] ?? `file:${path.join(dir, 'bench.db')}`;
  const kind = dbUrl.startsWith('file:') ? 'SQLite' : 'Postgres';
  await migrate(dbUrl);
  const db = await openDatabase(dbUrl);
  const seeded = Date.now();
  await seedNumberedProfiles(db, N, kind === 'Postgres');
  log(`seeded ${N} profiles in ${((Date.now() - seeded) / 1000).toFixed(1)} s (${kind})`);

  const sink = fork(path.join(__dirname, 'smtp-sink.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const sinkPort = await new Promise<number>((resolve) => sink.once('message', (m: { port: number }) => resolve(m.port)));
  const sinkCount = () => new Promise<number>((resolve) => {
    sink.once('message', (m: { count: number }) => resolve(m.count));
    sink.send('count');
  });

  const server = await startDevServer(temporalCliPath(), dir, await freePort(), 0, { headless: true });
  const worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'worker', 'main.ts')], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: 'bench', DATABASE_URL: dbUrl, SMTP_URL: `smtp://127.0.0.1:${sinkPort}`, SMTP_MAX_CONNECTIONS: String(CONNECTIONS) },
  });
  const rss = rssSampler(worker);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  await new Promise((r) => setTimeout(r, 8000)); // the worker bundles its workflows

  const started = Date.now();
  const handle = await startDelivery(client, 'bench', { name: `Benchmark ${N}`, from: 'Bench <bench@shop.example>', subject: 'Hello {{firstName}}', html: HTML, audience: { all: true } });
  let prepared = 0;
  let sendingFrom = 0;
  for (;;) {
    const { state } = await handle.query(statusQuery).catch(() => ({ state: 'preparing' }));
    if (!prepared && state !== 'preparing') prepared = Date.now();
    if (!sendingFrom && state === 'sending') sendingFrom = Date.now();
    if (state === 'sent' || state === 'failed' || state === 'stopped') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const done = Date.now();
  const { kpis } = await handle.result();
  const historyLength = (await handle.describe()).historyLength;
  const received = await sinkCount();
  const prepareS = (prepared - started) / 1000;
  const sendS = (done - (sendingFrom || prepared)) / 1000;
  const dbBytes = kind === 'SQLite' ? fs.statSync(dbUrl.slice(5)).size : Number((await db.$queryRawUnsafe<Array<{ size: bigint }>>('SELECT pg_database_size(current_database()) AS size'))[0].size);

  const baselineN = Math.min(N, Number(values['baseline-max']));
  const baselineRate = await baseline(sinkPort, baselineN);

  const row = {
    date: new Date().toISOString().slice(0, 10), machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`, database: kind, profiles: N, connections: CONNECTIONS,
    prepareSeconds: prepareS, preparePerSecond: Math.round(N / prepareS), sendSeconds: sendS, sendPerSecond: Math.round(kpis.sent / sendS),
    baselinePerSecond: Math.round(baselineRate), ratio: Number((kpis.sent / sendS / baselineRate).toFixed(2)),
    workerPeakRssMb: Math.round(rss.peakKb() / 1024), dbMb: Math.round(dbBytes / 2 ** 20), historyLength, sent: kpis.sent, received,
  };
  console.log(JSON.stringify(row, null, 2));
  fs.appendFileSync(path.join(ROOT, 'BENCHMARKS.md'),
    `| ${row.date} | ${row.machine} | ${row.database} | ${row.profiles} | ${row.connections} | ${row.prepareSeconds.toFixed(1)} s (${row.preparePerSecond}/s) | ` +
    `${row.sendSeconds.toFixed(1)} s (${row.sendPerSecond}/s) | ${row.baselinePerSecond}/s | ${row.ratio} | ${row.workerPeakRssMb} MB | ${row.dbMb} MB | ${row.historyLength} |\n`);

  rss.stop();
  worker.kill('SIGTERM');
  await connection.close();
  await server.stop();
  sink.kill();
  await db.$disconnect();
}

/** The same 5 KB messages straight from nodemailer's pool: what SMTP alone costs on this machine. */
async function baseline(port: number, n: number): Promise<number> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: CONNECTIONS, maxMessages: Infinity, ignoreTLS: true });
  const html = HTML.replace('{{firstName}}', 'User');
  const t = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONNECTIONS * 4 }, async () => {
    while (next < n) {
      const i = next++;
      await transport.sendMail({ from: 'Bench <bench@shop.example>', to: `user${i}@example.com`, subject: `Hello User${i}`, html });
    }
  }));
  transport.close();
  return n / ((Date.now() - t) / 1000);
}

function rssSampler(child: ChildProcess) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // the worker is gone
    }
  }, 500);
  return { peakKb: () => peak, stop: () => clearInterval(timer) };
}

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
