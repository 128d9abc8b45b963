// The fault classes of the chaos run, each injected on the real stack and recovered from as ops would: the same
// faults as the fault table (test/faults), drawn at random by a seeded schedule (run.ts).
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Client as PgClient } from 'pg';
import { resumeUpdate, statusQuery } from '../../workflows/messages';
import { signToken } from '../../domain/tracking';
import type { DeliveryHandle } from '../../client/deliveries';
import type { SmtpReply } from '../../stack/smtp-capture';
import type { BounceListener } from '../../worker/bounce-listener';
import { dsn, sendRaw } from '../helpers/dsn';
import type { TestStack } from '../helpers/stack';
import type { SinkOptions } from '../helpers/smtp-sink';
import { TEST_POSTGRES_URL } from '../helpers/paths';

export interface Chaos {
  stack: TestStack;
  handle: DeliveryHandle;
  listener: BounceListener;
  /** The running workers (a fault may replace one). */
  workers: ChildProcess[];
  respawn(index: number): ChildProcess;
  /** What the relay does besides its configuration: refusals and cuts switched on by the faults. */
  relay: { rcpt?: SmtpReply; dropNext: number; loseNext: number };
  /** The relay's configuration as the stack started it (faults restart it with something else, then with this). */
  relayOptions: SinkOptions;
  random: () => number;
  /** Tallies the run checks at the end. */
  forged: { sent: number; refused: number };
  log(line: string): void;
}

export interface FaultClass {
  name: string;
  /** Injects the fault and returns once it is over (recovered from as ops would). */
  inject(c: Chaos): Promise<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (c: Chaos, low: number, high: number) => Math.round(low + c.random() * (high - low));
const pick = <T>(c: Chaos, items: T[]) => items[Math.floor(c.random() * items.length)];

export const FAULT_CLASSES: FaultClass[] = [
  { name: 'worker SIGKILL', inject: async (c) => {
    const i = pick(c, [0, 1]);
    c.workers[i].kill('SIGKILL');
    await once(c.workers[i], 'exit');
    const down = between(c, 0, 3000);
    await sleep(down);
    c.respawn(i);
    return `worker ${i} killed, back after ${down} ms`;
  } },
  { name: 'worker SIGTERM (a deploy)', inject: async (c) => {
    const i = pick(c, [0, 1]);
    c.workers[i].kill('SIGTERM');
    await once(c.workers[i], 'exit');
    c.respawn(i);
    return `worker ${i} stopped gracefully and restarted`;
  } },
  { name: 'worker SIGSTOP past the heartbeat timeout', inject: async (c) => {
    const i = pick(c, [0, 1]);
    const stopped = between(c, 4000, 8000);
    c.workers[i].kill('SIGSTOP');
    await sleep(stopped);
    c.workers[i].kill('SIGCONT');
    return `worker ${i} stopped ${stopped} ms`;
  } },
  { name: 'Temporal server SIGKILL + restart', inject: async (c) => {
    const down = between(c, 1000, 5000);
    await c.stack.crashServer(down);
    return `down ${down} ms`;
  } },
  { name: 'database connections terminated', inject: async (c) => `${await admin(c, (client, database) => terminate(client, database))} connections terminated` },
  { name: 'database refusing connections', inject: async (c) => {
    const ms = between(c, 2000, 6000);
    await admin(c, async (client, database) => {
      await client.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS false`);
      try {
        await terminate(client, database);
        await sleep(ms);
      } finally {
        await client.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS true`);
      }
    });
    return `refused ${ms} ms`;
  } },
  { name: 'database locked (sending logs)', inject: async (c) => {
    const ms = between(c, 2000, 5000);
    const locker = new PgClient({ connectionString: c.stack.dbUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE "SendingLog" IN EXCLUSIVE MODE'); // reads go on, writes wait
      await sleep(ms);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    return `locked ${ms} ms`;
  } },
  { name: 'relay greeting 421', inject: async (c) => {
    const ms = between(c, 3000, 8000);
    await relayBecomes(c, { ...c.relayOptions, refuseConnections: { code: 421, message: '4.3.2 too busy, try later' } });
    await sleep(ms);
    await relayBecomes(c, c.relayOptions);
    return `${ms} ms`;
  } },
  { name: 'relay 530 at MAIL FROM (permanent)', inject: async (c) => permanent(c, { ...c.relayOptions, refuseSender: { code: 530, message: '5.7.0 Authentication required' } }) },
  { name: 'relay 554 at RCPT TO: Relay access denied (permanent)', inject: async (c) => {
    c.relay.rcpt = { code: 554, message: '5.7.1 Relay access denied' };
    return permanent(c);
  } },
  { name: 'relay 452 at RCPT TO: insufficient storage', inject: async (c) => {
    const ms = between(c, 3000, 8000);
    c.relay.rcpt = { code: 452, message: '4.3.1 Insufficient system storage' };
    await sleep(ms);
    c.relay.rcpt = undefined;
    return `${ms} ms`;
  } },
  { name: 'connection reset before DATA', inject: async (c) => {
    c.relay.dropNext = between(c, 3, 15);
    return `${c.relay.dropNext} connections`;
  } },
  { name: 'connection reset after the content (reply lost)', inject: async (c) => {
    c.relay.loseNext = between(c, 3, 15);
    return `${c.relay.loseNext} replies`;
  } },
  { name: 'forged DSNs', inject: async (c) => {
    const rows = await c.stack.db.sendingLog.findMany({ where: { deliveryId: c.handle.workflowId, status: 'sent' }, take: 20, select: { id: true, email: true } });
    for (const r of rows) {
      for (const to of [`bounces+${r.id}-${randomBytes(12).toString('hex')}@bounces.chaos`, 'postmaster@bounces.chaos']) {
        c.forged.sent++;
        const raw = dsn({ to, recipient: r.email, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: `<${r.id}.${randomBytes(12).toString('hex')}@shop.example>` });
        await sendRaw(c.listener.port, { from: '', to }, raw).then(() => undefined, (e: { responseCode?: number }) => void ((e.responseCode ?? 0) >= 500 && c.forged.refused++));
      }
    }
    return `${2 * rows.length} forged`;
  } },
  { name: 'opt-outs (one-click unsubscribe) of recipients not sent yet', inject: async (c) => {
    const rows = await c.stack.db.sendingLog.findMany({ where: { deliveryId: c.handle.workflowId, status: 'pending' }, orderBy: { id: 'desc' }, take: between(c, 5, 20), select: { id: true } });
    for (const r of rows) {
      const token = signToken(c.stack.trackingSetup.secret, 'unsubscribe', { deliveryId: c.handle.workflowId, sendingLogId: r.id, linkId: 0 });
      await fetch(`${c.stack.tracking.url}/u/${token}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' });
    }
    return `${rows.length} unsubscribed`;
  } },
];

/** The relay restarts on the same port with another configuration. */
async function relayBecomes(c: Chaos, options: SinkOptions): Promise<void> {
  await c.stack.sink.goDown();
  await c.stack.sink.comeBack(options);
}

/**
 * A fault only ops can fix: the delivery pauses itself with the cause; then the relay is fixed and the delivery
 * resumed, as the cause says to.
 */
async function permanent(c: Chaos, broken?: SinkOptions): Promise<string> {
  if (broken) await relayBecomes(c, broken);
  const until = Date.now() + 60_000;
  let state = '';
  let cause = '';
  while (Date.now() < until) {
    const s = await c.handle.query(statusQuery).catch(() => undefined);
    state = s?.state ?? state;
    cause = s?.pausedBecause ?? cause;
    if (state === 'paused' || state === 'sent') break;
    await sleep(250);
  }
  c.relay.rcpt = undefined;
  if (broken) await relayBecomes(c, c.relayOptions);
  if (state !== 'paused') return `not paused (${state || 'no answer'}): nothing was sending`;
  await resume(c);
  return `paused (${cause.slice(0, 60)}…), fixed and resumed`;
}

/** Resumes a paused delivery (an update, answered: retried while a worker or the server is away). */
export async function resume(c: Chaos): Promise<void> {
  for (const until = Date.now() + 120_000; Date.now() < until; await sleep(500)) {
    const s = await c.handle.query(statusQuery).catch(() => undefined);
    if (s && s.state !== 'paused') return;
    if (s?.state === 'paused' && !s.pausing) await c.handle.executeUpdate(resumeUpdate).catch(() => undefined);
  }
  throw new Error('the delivery could not be resumed within 2 minutes');
}

async function admin<T>(c: Chaos, fn: (client: PgClient, database: string) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client, new URL(c.stack.dbUrl).pathname.slice(1));
  } finally {
    await client.end();
  }
}

async function terminate(client: PgClient, database: string): Promise<number> {
  const { rows } = await client.query(`SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
    WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, [database]);
  return Number(rows[0].n);
}
