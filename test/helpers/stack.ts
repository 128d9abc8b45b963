// The real stack for integration tests: a Temporal dev server (official CLI), a database migrated by the
// project's migrations, a loopback SMTP server, and a delivery worker (in this process, or as a child
// process to kill).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { isPostgres, openDatabase, type Database } from '../../store/prisma';
import { seedNumberedProfiles } from '../../store/profiles';
import { profileAddressKey } from '../../domain/address';
import { createDeliveryWorker, type DeliveryWorker } from '../../worker/worker';
import { startTrackingServer, type TrackingServer } from '../../tracking/server';
import type { EspWebhookConfig } from '../../tracking/esp-webhooks';
import type { Esp } from '../../domain/esp-events';
import type { TrackingSetup } from '../../domain/message';
import { freePort, startDevServer, type DevServer } from '../../stack/dev-server';
import { startDelivery, type DeliveryHandle, type StartedDelivery } from '../../client/deliveries';
import type { DeliveryRunOptions } from '../../workflows/delivery';
import { SEARCH_ATTRIBUTES, statusQuery } from '../../workflows/messages';
import type { DeliveryState } from '../../domain/delivery';
import { POSTGRES_TEMPLATE_DB, ROOT, TEMPLATE_DB, TEST_DATA, TEST_POSTGRES_URL, WORKER_PROCESS, WORKFLOW_BUNDLE, postgresUrlFor } from './paths';
import { startSmtpSink, type SinkOptions, type SmtpSink } from './smtp-sink';

export interface TestStack {
  /** Temporal frontend address. */
  address: string;
  /** The Temporal Web UI, with `ui: true`. */
  uiUrl?: string;
  client: Client;
  db: Database;
  dbUrl: string;
  sink: SmtpSink;
  taskQueue: string;
  /** The tracking server the messages' links point to (in this process). */
  tracking: TrackingServer;
  trackingSetup: TrackingSetup;
  /** ERASURE_SECRET of this stack (the CLI and direct imports use the same). */
  erasureSecret: string;
  /** DKIM_KEYS_SECRET of this stack's workers (`delivery dkim` in tests uses the same). */
  dkimSecret: string;
  start(spec: unknown, runOptions?: DeliveryRunOptions): Promise<StartedDelivery>;
  /** Starts the in-process worker (done by default). */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** A worker in its own process, for kill tests (extra environment variables on top of the stack's; its stderr, by default the test's). */
  spawnWorker(env?: Record<string, string>, stderr?: 'inherit' | number): ChildProcess;
  /** With `persistentServer`: SIGKILL the Temporal server, wait, start it again on the same database file. */
  crashServer(downMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface TestStackOptions extends SinkOptions {
  inProcessWorker?: boolean;
  smtpMaxConnections?: number;
  bounceDomain?: string;
  /** A dev server persisted to a file (which survives a crash), instead of the in-memory test server. */
  persistentServer?: boolean;
  /** Rate limit of the tracking server per client address (default: high enough not to interfere). */
  trackingRequestsPerSecond?: number;
  /** Serve the Temporal Web UI too (browser tests): its URL is `uiUrl`. */
  ui?: boolean;
  /** The database as the in-process worker sees it (a test seam that injects faults). */
  workerDatabase?: (db: Database) => Database;
  /** How long a sending attempt waits for a failing database (DATABASE_RETRY_SECONDS of spawned workers too). */
  databaseRetryMs?: number;
  /** `user:password` in the worker's SMTP URL. */
  smtpCredentials?: string;
  /** How often the in-process worker looks for deliveries terminated in Temporal (ms; the worker's default is a minute). */
  reconcileEveryMs?: number;
  /** The ESP webhooks the tracking server serves, and the ESP the in-process worker tags its messages for (RELAY_ESP). */
  esp?: EspWebhookConfig;
  relayEsp?: Esp;
}

function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  } catch {
    // already installed by an earlier test file in this process
  }
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  quietRuntime();
  const temporal = await startTemporal(options.persistentServer ?? false, options.ui ?? false);
  const { url: dbUrl, drop: dropDatabase } = await freshDatabase();
  const db = await openDatabase(dbUrl);
  const sink = await startSmtpSink(options);
  const trackingPort = await freePort();
  const trackingSetup: TrackingSetup = { baseUrl: `http://127.0.0.1:${trackingPort}`, secret: randomBytes(32).toString('hex'), relayEsp: options.relayEsp };
  const tracking = await startTrackingServer({
    db, client: temporal.client, tracking: trackingSetup, port: trackingPort, requestsPerSecond: options.trackingRequestsPerSecond ?? 100_000, signalEveryMs: 500,
    esp: options.esp, softErrorsBeforeQuarantine: 3,
  });
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const dkimSecret = randomBytes(32).toString('hex');
  const workerConfig = { address: temporal.address, namespace: 'default', taskQueue };
  const smtp = { url: options.smtpCredentials ? sink.url.replace('//', `//${options.smtpCredentials}@`) : sink.url, maxConnections: options.smtpMaxConnections ?? 3 };
  let worker: DeliveryWorker | undefined;
  let running: Promise<void> | undefined;
  const children: ChildProcess[] = [];

  const stack: TestStack = {
    address: temporal.address, uiUrl: temporal.uiUrl, client: temporal.client, db, dbUrl, sink, taskQueue, tracking, trackingSetup, erasureSecret: randomBytes(32).toString('hex'), dkimSecret,
    start: (spec, runOptions) => startDelivery(temporal.client, taskQueue, spec, undefined, runOptions),
    async startWorker() {
      worker = await createDeliveryWorker({
        temporal: workerConfig, db: options.workerDatabase?.(db) ?? db, smtp, databaseRetryMs: options.databaseRetryMs, workflowBundle: { codePath: WORKFLOW_BUNDLE }, progressEveryMs: 200, reconcileEveryMs: options.reconcileEveryMs,
        softErrorsBeforeQuarantine: 3, bounceDomain: options.bounceDomain, tracking: trackingSetup,
        dkim: { secret: dkimSecret, threads: 1 },
      });
      running = worker.run();
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      worker = undefined;
    },
    spawnWorker(extraEnv = {}, stderr = 'inherit') {
      const child = spawn(process.execPath, WORKER_PROCESS, {
        cwd: ROOT,
        env: {
          ...process.env, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: dbUrl,
          SMTP_URL: smtp.url, SMTP_MAX_CONNECTIONS: String(smtp.maxConnections), WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE, PROGRESS_EVERY_MS: '200',
          TRACKING_BASE_URL: trackingSetup.baseUrl, TRACKING_SECRET: trackingSetup.secret, DKIM_KEYS_SECRET: dkimSecret, DKIM_SIGNING_THREADS: '1',
          ...(options.databaseRetryMs ? { DATABASE_RETRY_SECONDS: String(options.databaseRetryMs / 1000) } : {}),
          ...(options.bounceDomain ? { BOUNCE_DOMAIN: options.bounceDomain } : {}), ...extraEnv,
        },
        stdio: ['ignore', 'ignore', stderr],
      });
      children.push(child);
      return child;
    },
    crashServer: temporal.crash,
    async close() {
      for (const c of children) c.kill('SIGKILL');
      await stack.stopWorker();
      await tracking.close();
      await sink.close();
      await db.$disconnect();
      await temporal.close();
      await dropDatabase();
    },
  };
  if (options.inProcessWorker !== false) await stack.startWorker();
  return stack;
}

interface TestTemporal {
  address: string;
  uiUrl?: string;
  client: Client;
  crash(downMs: number): Promise<void>;
  close(): Promise<void>;
}

async function startTemporal(persistent: boolean, ui: boolean): Promise<TestTemporal> {
  const cli = process.env.TEMPORAL_CLI_PATH!;
  if (!persistent) {
    const uiPort = ui ? await freePort() : undefined;
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: cli }, searchAttributes: SEARCH_ATTRIBUTES,
        ...(uiPort ? { ui: true, uiPort, extraArgs: ['--ui-disable-news-fetch'] } : {}),
      },
    });
    return {
      address: env.address, client: env.client, uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
      crash: () => Promise.reject(new Error('crashServer needs { persistentServer: true }')),
      close: () => env.teardown(),
    };
  }
  const dir = path.join(TEST_DATA, `temporal-${randomBytes(4).toString('hex')}`);
  const port = await freePort();
  let server: DevServer = await startDevServer(cli, dir, port, 0, { headless: true });
  const connection = await Connection.connect({ address: server.address });
  return {
    address: server.address,
    client: new Client({ connection, namespace: 'default' }),
    async crash(downMs) {
      await server.kill();
      await new Promise((r) => setTimeout(r, downMs));
      server = await startDevServer(cli, dir, port, 0, { headless: true });
    },
    async close() {
      await connection.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An empty migrated database of the suite's kind (SQLite file, or Postgres when TEST_DATABASE_URL is set). */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `delivery_test_${randomBytes(4).toString('hex')}`;
  if (!TEST_POSTGRES_URL) {
    const file = path.join(TEST_DATA, `${name}.db`);
    fs.copyFileSync(TEMPLATE_DB, file);
    return { url: `file:${file}`, drop: async () => fs.rmSync(file, { force: true }) };
  }
  const admin = async (sql: string) => {
    const client = new PgClient({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await admin(`CREATE DATABASE ${name} TEMPLATE ${POSTGRES_TEMPLATE_DB}`);
  return { url: postgresUrlFor(name), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A fresh database for one test file, opened before its tests (then `seed`), closed and dropped after them. */
export function withFreshDatabase(seed?: (db: Database) => Promise<void>): { readonly db: Database } {
  const state: { db?: Database; drop?: () => Promise<void> } = {};
  beforeAll(async () => {
    const fresh = await freshDatabase();
    state.drop = fresh.drop;
    state.db = await openDatabase(fresh.url);
    await seed?.(state.db);
  });
  afterAll(async () => {
    await state.db?.$disconnect();
    await state.drop?.();
  });
  return { get db() { return state.db!; } };
}

/** Polls the status query until the delivery reaches a state (queries need a running worker). */
export async function waitForState(handle: DeliveryHandle, wanted: DeliveryState | DeliveryState[], timeoutMs = 60_000): Promise<void> {
  const states = Array.isArray(wanted) ? wanted : [wanted];
  const until = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { state } = await handle.query(statusQuery);
      last = state;
      if (states.includes(state)) return;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > until) throw new Error(`delivery ${handle.workflowId} did not reach ${states.join('|')} in ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until a condition on something the test can read holds. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until no other session runs a statement. On Postgres a SIGKILLed worker's last statement still
 * commits (the server finishes what it received), so counts read at once could miss it. SQLite commits
 * inside the worker's process: nothing to wait for.
 */
export async function killedWorkerSettled(db: Database): Promise<void> {
  if (!isPostgres(db)) return;
  await eventually(async () => {
    const [{ n }] = await db.$queryRaw<[{ n: bigint }]>`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()`;
    return Number(n) === 0;
  }, 10_000, "the killed worker's last statements");
}

export interface ProfileSeed {
  email: string;
  firstName?: string;
  lastName?: string;
  country?: string;
  language?: string;
  optOut?: boolean;
  attributes?: Record<string, string | number>;
  createdAt?: Date;
}

export async function seedProfiles(db: Database, profiles: ProfileSeed[]): Promise<void> {
  for (let i = 0; i < profiles.length; i += 5000) {
    await db.profile.createMany({ data: profiles.slice(i, i + 5000).map((p) => ({ ...p, attributes: JSON.stringify(p.attributes ?? {}), addressKey: profileAddressKey(p.email) })) });
  }
}

/** n profiles user1@example.com… inserted by one SQL statement (Prisma's createMany takes ~200 µs a row). */
export function seedManyProfiles(db: Database, n: number): Promise<void> {
  return seedNumberedProfiles(db, n, Boolean(TEST_POSTGRES_URL));
}

/** Empties profiles and sending logs, and forgets what the SMTP sink received (between tests). */
export async function clearData(stack: TestStack): Promise<void> {
  await stack.db.trackingEvent.deleteMany();
  await stack.db.trackingTally.deleteMany();
  await stack.db.trackingReach.deleteMany();
  await stack.db.optOut.deleteMany();
  await stack.db.sendingLog.deleteMany();
  await stack.db.profile.deleteMany();
  stack.sink.messages.length = 0;
}

export function manyProfiles(n: number, domain = 'example.com'): ProfileSeed[] {
  return Array.from({ length: n }, (_, i) => ({ email: `user${i + 1}@${domain}`, firstName: `User${i + 1}` }));
}

export function baseSpec(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Test delivery',
    from: 'Shop <news@shop.example>',
    subject: 'Hello {{firstName}}',
    html: '<p>Hi {{firstName}} {{lastName}}</p>',
    text: 'Hi {{firstName}} {{lastName}}',
    audience: { all: true as const },
    // Tests that wait for the workflow's result end it when sent (the default tracking period is days).
    trackingHours: 0,
    ...overrides,
  };
}
