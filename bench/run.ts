// `npm run bench -- --profiles N [--connections 20] [--workers 1] [--sink postfix|node] [--database-url postgresql://…] [--cpu-prof]
//   [--worker-node-options=--heap-growing-percent=30] [--tsx] [--compare <commit>] [--dkim off,rsa-2048,ed25519]`
// One delivery through the real stack (dev server, worker process, database) to a separate SMTP sink
// process, then the same messages blasted straight from nodemailer's pool to the same sink (baseline).
// With --compare, the same delivery is first sent by the worker of another commit, in the same run, to the
// same sink and against the same baseline: the change's cost, apart from the machine's mood.
// With --dkim, this checkout's delivery is sent once per setting (unsigned, or signed with a key of that type): what
// signing costs in send rate and worker CPU per message.
// Prints the figures and appends them to BENCHMARKS.md.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { noDelaySocket } from '../activities/smtp-pool';
import { freePort, startDevServer } from '../stack/dev-server';
import { temporalCliPath } from '../stack/temporal-cli';
import { migrate } from '../store/migrate';
import { openDatabase } from '../store/prisma';
import { seedNumberedProfiles } from '../store/profiles';
import { statusQuery } from '../workflows/messages';
import { dkimKeys } from '../store/dkim-keys';
import { DKIM_KEY_TYPES, generateDkimKey, type DkimKeyType } from '../domain/dkim-keys';
import { BENCH_HTML, benchDelivery, emptyPostgres } from './delivery';
import { cpuMs, POSTFIX_SINK, POSTFIX_SOURCE, rssSampler, smtpSource, startSink, type Sink } from './processes';
import { mimeSkeleton } from '../domain/mime';
import { appendRow, appendRowUnder } from './benchmarks-md';

const ROOT = path.resolve(__dirname, '..');
/** Postfix's smtp-sink (Debian package postfix): a C sink that costs next to nothing per message. */
const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    'baseline-max': { type: 'string', default: '100000' },
    workers: { type: 'string', default: '1' },
    sink: { type: 'string', default: fs.existsSync(POSTFIX_SINK) ? 'postfix' : 'node' },
    'cpu-prof': { type: 'boolean', default: false },
    /** Node flags for the worker processes only: by default the Dockerfile's (V8 collects when the heap grew 30%, not up to 4×). */
    'worker-node-options': { type: 'string', default: '--heap-growing-percent=30' },
    /** The worker from its sources through tsx rather than compiled (the Dockerfile runs it compiled). */
    tsx: { type: 'boolean', default: false },
    /** Also run the same delivery with the worker of this commit first (SQLite), against the same sink and baseline. */
    compare: { type: 'string' },
    /** Send this checkout's delivery once per DKIM setting: off, rsa-2048, ed25519 (comma-separated). */
    dkim: { type: 'string' },
  },
});
const WORKERS = Number(values.workers);
const N = Number(values.profiles);
const CONNECTIONS = Number(values.connections);

/** A version of the engine to run: this checkout, or a commit checked out beside it (--compare). */
interface CodeVersion {
  label: string;
  root: string;
  /** Mail signed with a key of this type (--dkim), or not signed. */
  dkim?: DkimKeyType;
}

const DKIM_SETTINGS = (values.dkim ?? '').split(',').filter(Boolean).map((v) => {
  if (v !== 'off' && !(DKIM_KEY_TYPES as readonly string[]).includes(v)) throw new Error(`--dkim takes off, ${DKIM_KEY_TYPES.join(', ')} (comma-separated), not "${v}"`);
  return v === 'off' ? undefined : (v as DkimKeyType);
});
const DKIM_SECRET = 'bench-dkim-keys-secret-0123456789';

interface DeliveryRun {
  kind: 'SQLite' | 'Postgres';
  prepareS: number;
  sendS: number;
  sent: number;
  received: number;
  workerPeakRssMb: number;
  /** CPU of the worker processes (all their threads) while sending, per message sent (ms). */
  workerCpuMsPerMessage: number;
  /** CPU of the SMTP sink meanwhile, per message sent (ms). */
  sinkCpuMsPerMessage: number;
  dbMb: number;
  historyLength: number;
}

async function main(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(ROOT, '.data', 'bench', stamp);
  fs.mkdirSync(dir, { recursive: true });
  if (values.compare && values['database-url']) throw new Error('--compare runs on SQLite files (the two versions may not share a schema): drop --database-url');
  const sink = await startSink(values.sink === 'postfix' ? 'postfix' : 'node');
  log(`SMTP sink: ${sink.name} on port ${sink.port}; ${WORKERS} worker process(es)`);
  const server = await startDevServer(temporalCliPath(), dir, await freePort(), 0, { headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const versions: CodeVersion[] = [];
  try {
    if (values.compare) versions.push(checkOut(values.compare, dir));
    if (DKIM_SETTINGS.length) for (const dkim of DKIM_SETTINGS) versions.push({ label: commitOf('HEAD', ROOT), root: ROOT, dkim });
    else versions.push({ label: commitOf('HEAD', ROOT), root: ROOT });
    const runs: DeliveryRun[] = [];
    for (const version of versions) runs.push(await runDelivery(version, { dir, serverAddress: server.address, client, sink }));

    const baselineRate = await baseline(sink.port, Math.min(N, Number(values['baseline-max'])));
    log(`nodemailer's pool: ${Math.round(baselineRate)}/s`);
    const cSource = fs.existsSync(POSTFIX_SOURCE) ? await smtpSource(sink.port, Math.min(N, Number(values['baseline-max'])), CONNECTIONS, benchMessageBytes()) : undefined;
    if (cSource) log(`smtp-source (Postfix's C client, ${CONNECTIONS} sessions, ${benchMessageBytes()} bytes): ${Math.round(cSource.perSecond)}/s, ${cSource.cpuMsPerMessage.toFixed(3)} ms CPU per message`);
    const date = new Date().toISOString().slice(0, 10);
    const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
    runs.forEach((run, i) => {
      const sendRate = run.sent / run.sendS;
      const row = {
        date, machine, code: versions[i].label, database: run.kind, profiles: N, workers: WORKERS, sink: sink.name, connections: CONNECTIONS,
        prepareSeconds: run.prepareS, preparePerSecond: Math.round(N / run.prepareS), sendSeconds: run.sendS, sendPerSecond: Math.round(sendRate),
        baselinePerSecond: Math.round(baselineRate), ratio: Number((sendRate / baselineRate).toFixed(2)),
        cSourcePerSecond: cSource && Math.round(cSource.perSecond), ratioToC: cSource && Number((sendRate / cSource.perSecond).toFixed(2)), cSourceCpuMsPerMessage: cSource && Number(cSource.cpuMsPerMessage.toFixed(3)),
        dkim: versions[i].dkim ?? 'off', workerCpuMsPerMessage: run.workerCpuMsPerMessage, sinkCpuMsPerMessage: run.sinkCpuMsPerMessage, workerPeakRssMb: run.workerPeakRssMb, dbMb: run.dbMb, historyLength: run.historyLength, sent: run.sent, received: run.received,
      };
      console.log(JSON.stringify(row, null, 2));
      if (DKIM_SETTINGS.length) {
        const off = runs.find((_, j) => !versions[j].dkim);
        const change = off && versions[i].dkim ? ` (${(100 * (sendRate / (off.sent / off.sendS) - 1)).toFixed(1)}%)` : '';
        appendRow(/^\| \d{4}-\d\d-\d\d \| [^|]+ \| [0-9a-f]{7,}\+? \| (SQLite|Postgres) \| \d+ \| \d+ \| (off|rsa|ed25519)/, /^\| date \| machine \| code \| database \| profiles \| connections \| DKIM \|/,
          `| ${date} | ${machine} | ${row.code} | ${row.database} | ${N} | ${CONNECTIONS} | ${row.dkim} | ${row.sendPerSecond}/s${change} | ${row.workerCpuMsPerMessage} ms | ${row.ratio} |`);
        return;
      }
      // The runs' table: beside the send rate, what the same SMTP costs from nodemailer's pool and from Postfix's C client.
      const perMessage = (ms: number | undefined) => (ms === undefined ? '—' : `${ms.toFixed(3)} ms`);
      appendRowUnder(/^\| date \| machine \| database \| profiles \| workers \| SMTP sink \| connections \| prepare \| send \| nodemailer pool \| smtp-source \|/,
        `| ${row.date} | ${row.machine} | ${row.database} (${row.code}) | ${row.profiles} | ${row.workers} | ${row.sink} | ${row.connections} | ` +
        `${row.prepareSeconds.toFixed(1)} s (${row.preparePerSecond}/s) | ${row.sendSeconds.toFixed(1)} s (${row.sendPerSecond}/s) | ${row.baselinePerSecond}/s | ` +
        `${row.cSourcePerSecond ?? '—'}/s | ${row.ratioToC ?? '—'} | ${perMessage(row.workerCpuMsPerMessage)} | ${perMessage(row.sinkCpuMsPerMessage)} | ${perMessage(row.cSourceCpuMsPerMessage)} | ` +
        `${row.workerPeakRssMb} MB | ${workerRuntime()} | ${row.historyLength} |`);
    });
    if (runs.length === 2 && values.compare) {
      const [before, after] = runs.map((r) => r.sent / r.sendS);
      const change = `${after >= before ? '+' : ''}${((100 * (after - before)) / before).toFixed(1)}%`;
      log(`send rate ${versions[0].label} ${Math.round(before)}/s → ${versions[1].label} ${Math.round(after)}/s (${change}), baseline ${Math.round(baselineRate)}/s`);
      appendRow(/^\| \d{4}-\d\d-\d\d \| [^|]+ \| [0-9a-f]{7,}\+? → /, /^\| date \| machine \| code \|/, `| ${date} | ${machine} | ${versions[0].label} → ${versions[1].label} | ${N} | ${CONNECTIONS} | ` +
        `${Math.round(before)}/s | ${Math.round(after)}/s | ${change} | ${Math.round(baselineRate)}/s | ${(before / baselineRate).toFixed(2)} → ${(after / baselineRate).toFixed(2)} |`);
    }
  } finally {
    await connection.close();
    await server.stop();
    sink.kill();
    for (const v of versions) if (v.root !== ROOT) execFileSync('git', ['worktree', 'remove', '--force', v.root], { cwd: ROOT });
  }
}

/** One delivery of N profiles, from an empty database, sent by that version's worker processes. */
async function runDelivery(version: CodeVersion, env: { dir: string; serverAddress: string; client: Client; sink: Sink }): Promise<DeliveryRun> {
  const here = version.root === ROOT;
  const name = `${version.label}${version.dkim ? `-${version.dkim}` : ''}`;
  const dbUrl = (here && values['database-url']) || `file:${path.join(env.dir, `${name}.db`)}`;
  const kind = dbUrl.startsWith('file:') ? 'SQLite' : 'Postgres';
  // Each version migrates with its own migrations (their schemas may differ).
  if (here) await migrate(dbUrl);
  else execFileSync(process.execPath, ['--import', 'tsx', path.join(version.root, 'store', 'migrate.ts')], { cwd: version.root, env: { ...process.env, DATABASE_URL: dbUrl }, stdio: 'ignore' });
  const db = await openDatabase(dbUrl);
  if (kind === 'Postgres') await emptyPostgres(db);
  if (version.dkim) await dkimKeys(db, DKIM_SECRET).add({ domain: 'shop.example', selector: 'bench', privateKey: generateDkimKey(version.dkim) }, version.dkim);
  const seeded = Date.now();
  await seedNumberedProfiles(db, N, kind === 'Postgres');
  log(`${version.label}: seeded ${N} profiles in ${((Date.now() - seeded) / 1000).toFixed(1)} s (${kind})`);

  // Bundled once here, as a deployment would at build time: bundling at worker start (webpack) takes
  // ~700 MB of RSS by itself and would hide what the delivery costs.
  const bundlePath = path.join(env.dir, `workflow-bundle-${version.label}.js`);
  if (!fs.existsSync(bundlePath)) fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: path.join(version.root, 'workflows'), logger: quietLogger })).code);
  const taskQueue = `bench-${name}`;
  const entry = workerEntry(version.root);
  const workers = Array.from({ length: WORKERS }, () => spawn(process.execPath, [
    ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${env.dir}`] : []), ...values['worker-node-options'].split(/\s+/).filter(Boolean), ...entry,
  ], {
    cwd: version.root, stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, TEMPORAL_ADDRESS: env.serverAddress, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: dbUrl, SMTP_URL: `smtp://127.0.0.1:${env.sink.port}`,
      SMTP_MAX_CONNECTIONS: String(CONNECTIONS), WORKFLOW_BUNDLE_PATH: bundlePath, DKIM_KEYS_SECRET: DKIM_SECRET,
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', // as the Dockerfile: 2 malloc arenas, not 8 per core
      // One sender per worker process, so that each process takes one.
      ...(WORKERS > 1 ? { MAX_CONCURRENT_ACTIVITIES: '1' } : {}),
    },
  }));
  const rss = workers.map(rssSampler);
  try {
    await new Promise((r) => setTimeout(r, 3000)); // the workers connect
    const receivedBefore = await env.sink.count();
    const started = Date.now();
    // The spec as written, not as this checkout validates it: each version's preparation validates it.
    const handle = await env.client.workflow.start('emailDelivery', { taskQueue, workflowId: `bench-${name}-${started}`, args: [benchDelivery(N, WORKERS)] });
    let prepared = 0;
    let sendingFrom = 0;
    let cpuAtSending = 0;
    let sinkCpuAtSending = 0;
    for (;;) {
      const { state } = await handle.query(statusQuery).catch(() => ({ state: 'preparing' }));
      if (!prepared && state !== 'preparing') prepared = Date.now();
      if (!sendingFrom && state === 'sending') {
        sendingFrom = Date.now();
        cpuAtSending = cpuMs(workers);
        sinkCpuAtSending = cpuMs([env.sink]);
      }
      if (state === 'sent' || state === 'failed' || state === 'stopped') break;
      // A worker that could not start (a bad flag, a build error) would leave the delivery waiting for ever.
      const exited = workers.find((w) => w.exitCode !== null || w.signalCode !== null);
      if (exited) throw new Error(`a worker exited (${exited.exitCode ?? exited.signalCode}) before the delivery ended: see its output above`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const done = Date.now();
    const sendingCpuMs = cpuMs(workers) - cpuAtSending;
    const sinkCpuMs = cpuMs([env.sink]) - sinkCpuAtSending;
    const { kpis } = (await handle.result()) as { kpis: { sent: number } };
    const dbBytes = kind === 'SQLite' ? fs.statSync(dbUrl.slice(5)).size : Number((await db.$queryRawUnsafe<Array<{ size: bigint }>>('SELECT pg_database_size(current_database()) AS size'))[0].size);
    return {
      kind, prepareS: (prepared - started) / 1000, sendS: (done - (sendingFrom || prepared)) / 1000, sent: kpis.sent, received: (await env.sink.count()) - receivedBefore,
      workerPeakRssMb: Math.round(Math.max(...rss.map((r) => r.peakKb())) / 1024), workerCpuMsPerMessage: Number((sendingCpuMs / Math.max(1, kpis.sent)).toFixed(3)),
      sinkCpuMsPerMessage: Number((sinkCpuMs / Math.max(1, kpis.sent)).toFixed(3)), dbMb: Math.round(dbBytes / 2 ** 20), historyLength: (await handle.describe()).historyLength,
    };
  } finally {
    for (const r of rss) r.stop();
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)));
    await db.$disconnect();
  }
}

/** A commit checked out beside this one (git worktree), sharing node_modules, with its own Prisma client. */
function checkOut(ref: string, dir: string): CodeVersion {
  const label = commitOf(ref, ROOT);
  const root = path.join(dir, label);
  execFileSync('git', ['worktree', 'add', '--detach', root, ref], { cwd: ROOT, stdio: 'ignore' });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  execFileSync('npm', ['run', '--silent', 'db:generate'], { cwd: root, stdio: 'ignore' });
  log(`${label}: checked out in ${root}`);
  return { label, root };
}

/** The commit's short hash; this checkout's with a "+" when its code has uncommitted changes (what is measured is not that commit). */
function commitOf(ref: string, cwd: string): string {
  const hash = execFileSync('git', ['rev-parse', '--short', ref], { cwd, encoding: 'utf8' }).trim();
  // BENCHMARKS.md is left out: every run appends to it, and it is not what is measured.
  const dirty = ref === 'HEAD' && execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!BENCHMARKS.md'], { cwd, encoding: 'utf8' }).trim() !== '';
  return dirty ? `${hash}+` : hash;
}

/**
 * The worker as production runs it, compiled (`npm run build`, the Dockerfile's command), or from its sources through
 * tsx with --tsx (~100 MB more memory). A version older than tsconfig.build.json compiles with its tsconfig.json.
 */
function workerEntry(root: string): string[] {
  if (values.tsx) return ['--import', 'tsx', path.join(root, 'worker', 'main.ts')];
  const config = fs.existsSync(path.join(root, 'tsconfig.build.json')) ? 'tsconfig.build.json' : 'tsconfig.json';
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', config, '--noEmit', 'false', '--outDir', 'dist'], { cwd: root, stdio: 'inherit' });
  return [path.join(root, 'dist', 'worker', 'main.js')];
}

/** How the worker ran, as the table shows it: compiled or tsx, and its Node flags (--worker-node-options). */
function workerRuntime(): string {
  return [values.tsx ? 'tsx' : 'compiled', values['worker-node-options'], `MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}`].filter(Boolean).join(', ');
}

/** Bytes of one bench message as the engine writes it (headers and quoted-printable body), for smtp-source's -l. */
function benchMessageBytes(): number {
  const html = BENCH_HTML.replace('{{firstName}}', 'User');
  return Buffer.byteLength(mimeSkeleton('Bench <bench@shop.example>', 'bench')({ to: 'user1@example.com', subject: 'Hello User1', messageId: '<1@shop.example>', headers: {}, html }));
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

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
