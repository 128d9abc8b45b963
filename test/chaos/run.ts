// `npm run test:chaos -- --minutes 10 --seed 42`: one delivery of 20,000 recipients on Postgres, sent by two worker
// processes (one with its clock 30 s ahead), while a seeded random schedule injects every fault class of the fault
// table, one after another, recovering from each as ops would. At the end it checks the engine's promises on the
// whole delivery, prints the faults by class and the invariants, and exits 1 on any broken one, with the seed that
// replays the schedule. (Anchors: Jepsen's generators and checkers, FoundationDB's simulation, TigerBeetle's VOPR.)
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import globalSetup from '../helpers/global-setup';
import { startTestStack, seedManyProfiles, baseSpec } from '../helpers/stack';
import { TEST_DATA, TEST_POSTGRES_URL } from '../helpers/paths';
import { auditFencing } from '../helpers/fence-audit';
import { dsn, sendRaw } from '../helpers/dsn';
import type { SinkMessage, SinkOptions } from '../helpers/smtp-sink';
import { account } from '../faults/fault-table';
import { startBounceListener } from '../../worker/bounce-listener';
import { kpisQuery, statusQuery } from '../../workflows/messages';
import { retryTransient } from '../../store/transient';
import { FAULT_CLASSES, resume, type Chaos } from './faults';
import { seeded } from '../helpers/random';

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string' }, recipients: { type: 'string', default: '20000' } } });
const MINUTES = Number(args.minutes);
const SEED = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
const RECIPIENTS = Number(args.recipients);
/** Real recipients' own fates, known to the test's relay: a few unknown users (550 at RCPT TO), a few bounced later (a DSN). */
const unknownUser = (email: string) => Number(/\d+/.exec(email)?.[0]) % 400 === 7;
const bouncedLater = (email: string) => Number(/\d+/.exec(email)?.[0]) % 400 === 13;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  if (!TEST_POSTGRES_URL || !(MINUTES > 0) || !(RECIPIENTS > 0)) {
    console.error('usage: TEST_DATABASE_URL=postgresql://… npm run test:chaos -- --minutes 10 [--seed 42] [--recipients 20000]');
    return 2;
  }
  console.log(`chaos: seed ${SEED}, ${MINUTES} min, ${RECIPIENTS} recipients (replay: npm run test:chaos -- --minutes ${MINUTES} --seed ${SEED})`);
  await globalSetup();
  const random = seeded(SEED);
  const relay: Chaos['relay'] = { dropNext: 0, loseNext: 0 };
  const lateBounces: Array<Promise<unknown>> = [];
  let listenerPort = 0;
  const relayOptions: SinkOptions = {
    refuseRecipient: (a) => (unknownUser(a) ? { code: 550, message: `5.1.1 <${a}>: user unknown` } : relay.rcpt),
    dropConnection: () => relay.dropNext > 0 && relay.dropNext-- > 0,
    loseReply: () => relay.loseNext > 0 && relay.loseNext-- > 0,
    onAccepted: (m) => {
      if (bouncedLater(m.to)) lateBounces.push(bounceLater(m, () => listenerPort, random));
    },
  };
  const stack = await startTestStack({ persistentServer: true, inProcessWorker: false, bounceDomain: 'bounces.chaos', databaseRetryMs: 3000, smtpMaxConnections: 5, ...relayOptions });
  const workerLog = fs.openSync(path.join(TEST_DATA, 'chaos-workers.log'), 'w');
  const envs: Array<Record<string, string>> = [{}, { NODE_OPTIONS: `--require ${path.join(__dirname, 'skewed-clock.cjs')}`, CLOCK_SKEW_MS: '30000' }];
  const workers: ChildProcess[] = envs.map((env) => stack.spawnWorker(env, workerLog));
  const listener = await startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: stack.trackingSetup.secret, signalEveryMs: 2000 });
  listenerPort = listener.port;
  const audit = await auditFencing(stack.dbUrl);
  const injected = new Map<string, number>();
  const cleanUp = async () => {
    for (const w of workers) w.kill('SIGKILL');
    await listener.close();
    await stack.close();
    fs.closeSync(workerLog);
  };
  // Interrupted (Ctrl-C, a CI timeout): no worker or Temporal server is left behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  try {
    await seedManyProfiles(stack.db, RECIPIENTS);
    // Sent over 60% of the run, so that faults meet the sending from its first minute to its last.
    const rate = Math.ceil(RECIPIENTS / (MINUTES * 60 * 0.6));
    const handle = await stack.start(baseSpec({ name: 'Chaos', messagesPerSecond: rate, parallelSenders: 2, retries: { validitySeconds: 3600, firstDelaySeconds: 5, maxDelaySeconds: 10 } }), { heartbeatTimeoutSeconds: 3, retryMaxIntervalSeconds: 2 });
    const chaos: Chaos = {
      stack, handle, listener, workers, relay, relayOptions, random, forged: { sent: 0, refused: 0 },
      respawn: (i) => (workers[i] = stack.spawnWorker(envs[i], workerLog)),
      log: (line) => console.log(line),
    };
    injected.set('worker clock 30 s ahead', 1);
    const started = Date.now();
    const faultsUntil = started + MINUTES * 60_000 * 0.75;
    // Every class in turn, in an order drawn anew for each round: a short run still meets each of them.
    let round: typeof FAULT_CLASSES = [];
    while (Date.now() < faultsUntil && !(await sentAlready(chaos))) {
      if (round.length === 0) round = shuffled(FAULT_CLASSES, random);
      const fault = round.shift()!;
      const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
      const what = await fault.inject(chaos).catch((e: Error) => `failed to inject: ${e.message}`);
      injected.set(fault.name, (injected.get(fault.name) ?? 0) + 1);
      console.log(`${t} s  ${fault.name}: ${what}`);
      await sleep(1000 + random() * 4000);
    }
    console.log(`faults over after ${((Date.now() - started) / 1000).toFixed(0)} s; waiting for the delivery to be sent`);
    // Ops' last round: everything is back, and a delivery the engine paused is resumed.
    relay.rcpt = undefined;
    for (const [i, w] of workers.entries()) if (w.exitCode !== null || w.signalCode !== null) chaos.respawn(i);
    const until = Date.now() + 15 * 60_000;
    for (let shown = Date.now(); ;) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s?.state === 'sent') break;
      if (s?.state === 'paused') await resume(chaos);
      if (Date.now() > until) throw new Error(`the delivery did not end within 15 minutes of the faults (state ${s?.state})`);
      if (Date.now() - shown > 15_000) {
        const k = await handle.query(kpisQuery).catch(() => undefined);
        console.log(`      ${s?.state ?? 'no answer'}: ${s?.situation ?? ''} (sent ${k?.sent}, pending ${k?.pending})`);
        shown = Date.now();
      }
      await sleep(1000);
    }
    await Promise.all(lateBounces);
    const refused = (e: string) => unknownUser(e) || bouncedLater(e);
    const row = await retryTransient(() => account(stack, handle.workflowId, `chaos run, seed ${SEED}, ${MINUTES} min`, [...injected.values()].reduce((a, b) => a + b, 0), refused));
    const late = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId, sentAt: { not: null } }, select: { email: true, status: true, bouncedAt: true } });
    const lateBounced = late.filter((r) => bouncedLater(r.email));
    const quarantinedLate = await stack.db.quarantine.count({ where: { address: { in: lateBounced.map((r) => r.email) }, status: 'quarantined', errorCount: 1 } });
    const violations = await audit.violations();
    const invariants: Array<[string, string, boolean]> = [
      ['lost (recorded sent or never settled, not received)', `${row.lost}`, row.lost === 0],
      ['duplicates received ≤ counted as possible duplicates', `${row.duplicates} ≤ ${row.counted}`, row.duplicates <= row.counted],
      ['failed though the relay had nothing against them', `${row.failedWrongly}`, row.failedWrongly === 0],
      ['quarantined though the relay had nothing against them', `${row.quarantinedWrongly}`, row.quarantinedWrongly === 0],
      ['sent despite an opt-out', `${row.sentDespiteOptOut}`, row.sentDespiteOptOut === 0],
      ['forged DSNs refused', `${chaos.forged.refused} of ${chaos.forged.sent}`, chaos.forged.refused === chaos.forged.sent],
      ['genuine late bounces applied once (failed, quarantined with one error)', `${lateBounced.filter((r) => r.status === 'failed').length} failed, ${quarantinedLate} quarantined of ${lateBounced.length}`,
        lateBounced.every((r) => r.status === 'failed' && r.bouncedAt) && quarantinedLate === lateBounced.length],
      ['writes by an attempt to rows it did not own', `${violations.length}`, violations.length === 0],
    ];
    printReport(injected, row, invariants);
    return invariants.every(([, , ok]) => ok) ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

/** A genuine DSN for a message the relay accepted, a little later, then replayed twice. */
async function bounceLater(m: SinkMessage, port: () => number, random: () => number): Promise<void> {
  const raw = dsn({ to: m.from, recipient: m.to, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 mailbox deleted', originalMessageId: m.mail.messageId! });
  for (let i = 0; i < 3; i++) {
    await sleep(200 + random() * 3000);
    // The listener answers 451 while the message's outcome is not recorded yet (a worker killed meanwhile): retried, as an MTA does.
    for (let tries = 0; tries < 60; tries++) {
      if (await sendRaw(port(), { from: '', to: m.from }, raw).then(() => true, () => false)) break;
      await sleep(2000);
    }
  }
}

async function sentAlready(c: Chaos): Promise<boolean> {
  return (await c.handle.query(statusQuery).catch(() => undefined))?.state === 'sent';
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function printReport(injected: Map<string, number>, row: Awaited<ReturnType<typeof account>>, invariants: Array<[string, string, boolean]>): void {
  const lines = [
    `\nChaos run, seed ${SEED}: ${MINUTES} min, ${row.recipients} recipients to send (Postgres, 2 workers), ${row.received} received\n`,
    '| fault class | injected |', '|---|---:|',
    ...[...injected].map(([name, n]) => `| ${name} | ${n} |`),
    '', '| invariant | value | holds |', '|---|---|---|',
    ...invariants.map(([name, value, ok]) => `| ${name} | ${value} | ${ok ? 'yes' : '**NO**'} |`), '',
  ];
  console.log(lines.join('\n'));
  const out = path.resolve(__dirname, '..', '..', 'test-artifacts');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'chaos.md'), lines.join('\n'));
  if (!invariants.every(([, , ok]) => ok)) console.log(`BROKEN: replay with npm run test:chaos -- --minutes ${MINUTES} --seed ${SEED}`);
}

main().then((code) => process.exit(code), (e) => {
  console.error(`chaos run failed (seed ${SEED}): ${(e as Error).stack ?? e}`);
  process.exit(1);
});
