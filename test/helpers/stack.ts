// The real stack for integration tests: a Temporal dev server (official CLI), a SQLite file migrated by
// prisma, a loopback SMTP server, and a delivery worker (in this process, or as a child process to kill).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { openDatabase, type Database } from '../../store/prisma';
import { createDeliveryWorker, type DeliveryWorker } from '../../worker/worker';
import { startDelivery, type DeliveryHandle } from '../../client/deliveries';
import { SEARCH_ATTRIBUTES, statusQuery } from '../../workflows/messages';
import type { DeliveryState } from '../../domain/delivery';
import { Client as PgClient } from 'pg';
import { POSTGRES_TEMPLATE_DB, ROOT, TEMPLATE_DB, TEST_DATA, TEST_POSTGRES_URL, WORKFLOW_BUNDLE, postgresUrlFor } from './paths';
import { startSmtpSink, type SinkOptions, type SmtpSink } from './smtp-sink';

export interface TestStack {
  env: TestWorkflowEnvironment;
  client: Client;
  db: Database;
  dbUrl: string;
  sink: SmtpSink;
  taskQueue: string;
  start(spec: unknown): Promise<DeliveryHandle>;
  /** Starts the in-process worker (done by default). */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** A worker in its own process, for kill tests. */
  spawnWorker(): ChildProcess;
  close(): Promise<void>;
}

function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  } catch {
    // already installed by an earlier test file in this process
  }
}

export interface TestStackOptions extends SinkOptions {
  inProcessWorker?: boolean;
  smtpMaxConnections?: number;
  bounceDomain?: string;
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_CLI_PATH! }, searchAttributes: SEARCH_ATTRIBUTES },
  });
  const { url: dbUrl, drop: dropDatabase } = await freshDatabase();
  const db = await openDatabase(dbUrl);
  const sink = await startSmtpSink({ refuseRecipient: options.refuseRecipient, dropConnection: options.dropConnection });
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const temporal = { address: env.address, namespace: 'default', taskQueue };
  const smtp = { url: sink.url, maxConnections: options.smtpMaxConnections ?? 3 };
  let worker: DeliveryWorker | undefined;
  let running: Promise<void> | undefined;
  const children: ChildProcess[] = [];

  const stack: TestStack = {
    env, client: env.client, db, dbUrl, sink, taskQueue,
    start: (spec) => startDelivery(env.client, taskQueue, spec),
    async startWorker() {
      worker = await createDeliveryWorker({
        temporal, db, smtp, workflowBundle: { codePath: WORKFLOW_BUNDLE }, progressEveryMs: 200, softErrorsBeforeQuarantine: 3, bounceDomain: options.bounceDomain,
      });
      running = worker.run();
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      worker = undefined;
    },
    spawnWorker() {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'worker', 'main.ts')], {
        cwd: ROOT,
        env: {
          ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: dbUrl,
          SMTP_URL: sink.url, SMTP_MAX_CONNECTIONS: String(smtp.maxConnections), WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    },
    async close() {
      for (const c of children) c.kill('SIGKILL');
      await stack.stopWorker();
      await sink.close();
      await db.$disconnect();
      await env.teardown();
      await dropDatabase();
    },
  };
  if (options.inProcessWorker !== false) await stack.startWorker();
  return stack;
}

/** A migrated, empty database of the kind under test (SQLite file, or Postgres when TEST_DATABASE_URL is set). */
async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
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

export interface ProfileSeed {
  email: string;
  firstName?: string;
  lastName?: string;
  country?: string;
  language?: string;
  optOut?: boolean;
  attributes?: Record<string, string>;
}

export async function seedProfiles(db: Database, profiles: ProfileSeed[]): Promise<void> {
  await db.profile.createMany({ data: profiles.map((p) => ({ ...p, attributes: JSON.stringify(p.attributes ?? {}) })) });
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
    ...overrides,
  };
}
