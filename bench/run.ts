// `npm run bench -- --profiles N [--connections 20] [--workers 1] [--sink postfix|node] [--database-url postgresql://…] [--cpu-prof]
//   [--worker-node-options "--max-old-space-size=192"]`
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
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDelivery } from '../client/deliveries';
import { noDelaySocket } from '../activities/smtp-pool';
import { freePort, startDevServer } from '../stack/dev-server';
import { temporalCliPath } from '../stack/temporal-cli';
import { migrate } from '../store/migrate';
import { openDatabase } from '../store/prisma';
import { seedNumberedProfiles } from '../store/profiles';
import { statusQuery } from '../workflows/messages';
import { BENCH_HTML, benchDelivery, emptyPostgres } from './delivery';

const ROOT = path.resolve(__dirname, '..');
/** Postfix's smtp-sink (Debian package postfix): a C sink that costs next to nothing per message. */
const POSTFIX_SINK = '/usr/sbin/smtp-sink';
const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    'baseline-max': { type: 'string', default: '100000' },
    workers: { type: 'string', default: '1' },
    sink: { type: 'string', default: fs.existsSync(POSTFIX_SINK) ? 'postfix' : 'node' },
    'cpu-prof': { type: 'boolean', default: false },
    /** Node flags for the worker processes only (e.g. "--max-old-space-size=192"). */
    'worker-node-options': { type: 'string', default: '' },
  },
});
const WORKERS = Number(values.workers);
const N = Number(values.profiles);
const CONNECTIONS = Number(values.connections);

async function main(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(ROOT, '.data', 'bench', stamp);
  fs.mkdirSync(dir, { recursive: true });
  const dbUrl = values['database-url'] ?? `file:${path.join(dir, 'bench.db')}`;
  const kind = dbUrl.startsWith('file:') ? 'SQLite' : 'Postgres';
  await migrate(dbUrl);
  const db = await openDatabase(dbUrl);
  if (kind === 'Postgres') await emptyPostgres(db);
  const seeded = Date.now();
  await seedNumberedProfiles(db, N, kind === 'Postgres');
  log(`seeded ${N} profiles in ${((Date.now() - seeded) / 1000).toFixed(1)} s (${kind})`);

  const sink = await startSink(values.sink === 'postfix' ? 'postfix' : 'node');
  const sinkPort = sink.port;
  log(`SMTP sink: ${sink.name} on port ${sinkPort}; ${WORKERS} worker process(es)`);

  // Bundled once here, as a deployment would at build time: bundling at worker start (webpack) takes
  // ~700 MB of RSS by itself and would hide what the delivery costs.
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger })).code);
  const server = await startDevServer(temporalCliPath(), dir, await freePort(), 0, { headless: true });
  const workers = Array.from({ length: WORKERS }, () => spawn(process.execPath, [
    ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), '--import', 'tsx', path.join(ROOT, 'worker', 'main.ts'),
  ], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: 'bench', DATABASE_URL: dbUrl, SMTP_URL: `smtp://127.0.0.1:${sinkPort}`,
      SMTP_MAX_CONNECTIONS: String(CONNECTIONS), WORKFLOW_BUNDLE_PATH: bundlePath, NODE_OPTIONS: values['worker-node-options'],
      // One sender per worker process, so that each process takes one.
      ...(WORKERS > 1 ? { MAX_CONCURRENT_ACTIVITIES: '1' } : {}),
    },
  }));
  const rss = workers.map(rssSampler);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  await new Promise((r) => setTimeout(r, 3000)); // the workers connect

  const started = Date.now();
  const handle = await startDelivery(client, 'bench', benchDelivery(N, WORKERS));
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
  const received = await sink.count();
  const prepareS = (prepared - started) / 1000;
  const sendS = (done - (sendingFrom || prepared)) / 1000;
  const dbBytes = kind === 'SQLite' ? fs.statSync(dbUrl.slice(5)).size : Number((await db.$queryRawUnsafe<Array<{ size: bigint }>>('SELECT pg_database_size(current_database()) AS size'))[0].size);

  const baselineN = Math.min(N, Number(values['baseline-max']));
  const baselineRate = await baseline(sinkPort, baselineN);

  const row = {
    date: new Date().toISOString().slice(0, 10), machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`, database: kind, profiles: N,
    workers: WORKERS, sink: sink.name, connections: CONNECTIONS,
    prepareSeconds: prepareS, preparePerSecond: Math.round(N / prepareS), sendSeconds: sendS, sendPerSecond: Math.round(kpis.sent / sendS),
    baselinePerSecond: Math.round(baselineRate), ratio: Number((kpis.sent / sendS / baselineRate).toFixed(2)),
    workerPeakRssMb: Math.round(Math.max(...rss.map((r) => r.peakKb())) / 1024), dbMb: Math.round(dbBytes / 2 ** 20), historyLength, sent: kpis.sent, received,
  };
  console.log(JSON.stringify(row, null, 2));
  appendResultRow(`| ${row.date} | ${row.machine} | ${row.database} | ${row.profiles} | ${row.workers} | ${row.sink} | ${row.connections} | ${row.prepareSeconds.toFixed(1)} s (${row.preparePerSecond}/s) | ` +
    `${row.sendSeconds.toFixed(1)} s (${row.sendPerSecond}/s) | ${row.baselinePerSecond}/s | ${row.ratio} | ${row.workerPeakRssMb} MB | ${heapCap()} | ${row.dbMb} MB | ${row.historyLength} |\n`);

  for (const r of rss) r.stop();
  for (const w of workers) w.kill('SIGTERM');
  await connection.close();
  await server.stop();
  sink.kill();
  await db.$disconnect();
}

/** The worker's V8 old-space cap when set (--worker-node-options), as the table shows it. */
function heapCap(): string {
  const m = /--max-old-space-size=(\d+)/.exec(values['worker-node-options'] ?? '');
  return m ? `${m[1]} MB` : '—';
}

/** Adds a row after the last row of the results table of BENCHMARKS.md (the readings follow the table). */
function appendResultRow(row: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const last = lines.reduce((at, line, i) => (/^\| \d{4}-\d\d-\d\d \|/.test(line) ? i : at), -1);
  lines.splice(last + 1, 0, row.trimEnd());
  fs.writeFileSync(file, lines.join('\n'));
}

interface Sink {
  name: string;
  port: number;
  count(): Promise<number>;
  kill(): void;
}

/** Postfix's smtp-sink, or a small smtp-server process (bench/smtp-sink.ts) where Postfix is not installed. */
async function startSink(kind: 'postfix' | 'node'): Promise<Sink> {
  if (kind === 'postfix') {
    const port = await freePort();
    // -c prints "sess=… quit=… mesg=N" at each message; -u: it refuses to keep root privileges.
    const child = spawn(POSTFIX_SINK, ['-c', '-u', 'nobody', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = '';
    child.stdout!.on('data', (d: Buffer) => (last = (last + d.toString()).slice(-200)));
    await new Promise((r) => setTimeout(r, 500));
    return {
      name: 'postfix smtp-sink', port,
      count: async () => Number([...last.matchAll(/mesg=(\d+)/g)].at(-1)?.[1] ?? 0),
      kill: () => child.kill(),
    };
  }
  const child = fork(path.join(__dirname, 'smtp-sink.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  return {
    name: 'Node smtp-server', port,
    count: () => new Promise<number>((resolve) => {
      child.once('message', (m: { count: number }) => resolve(m.count));
      child.send('count');
    }),
    kill: () => child.kill(),
  };
}

/** The same 5 KB messages straight from nodemailer's pool: what SMTP alone costs on this machine. */
async function baseline(port: number, n: number): Promise<number> {
  // With TCP_NODELAY as the worker's pool (activities/smtp-pool.ts): without it both are bound by delayed ACKs.
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port, pool: true, maxConnections: CONNECTIONS, maxMessages: Infinity, ignoreTLS: true,
    getSocket: (options, callback) => callback(null, { connection: noDelaySocket(options) }),
  });
  const html = BENCH_HTML.replace('{{firstName}}', 'User');
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

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
