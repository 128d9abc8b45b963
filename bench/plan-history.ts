// `npm run bench:plan-history [-- --recipients 1000000 --waves 4 --rate 5500 --gap 3]`: the workflow history of a
// delivery with an A/B test, waves and the recipient's local time in ~30 zone groups, on the real dev server with the
// real workflow code. The activities are stand-ins that behave as the real ones do towards the workflow (the same
// calls and results, the real progress ticker signalling while they "send" at the measured rate); the zone groups
// come from the real domain code, with their hours apart compressed to `--gap` seconds, waves' `every` and the
// test's `decideAfter` to seconds too. What grows a history is the number of steps, groups and signals: all real.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { LocalTimeInput } from '../activities/local-time';
import { startProgress } from '../activities/progress';
import type { PreparationResult, SendingResult } from '../domain/delivery';
import { localTimeGroups } from '../domain/local-time';
import type { LocalTimeGroup } from '../domain/local-time-plan';
import { freePort, startDevServer } from '../stack/dev-server';
import { temporalCliPath } from '../stack/temporal-cli';
import { startDelivery } from '../client/deliveries';
import { progressSignals } from '../temporal/progress-signals';
import { ensureSearchAttributes } from '../worker/search-attributes';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '1000000' },
    waves: { type: 'string', default: '4' },
    'test-percent': { type: 'string', default: '20' },
    // Messages a second of one worker on SQLite (BENCHMARKS.md, "Worker memory": 5,673/s) and of the preparation (59,126/s).
    rate: { type: 'string', default: '5500' },
    'prepare-rate': { type: 'string', default: '59000' },
    // Longer than a group's sending (200,000 / 30 at 5,500/s: 1.2 s), so that each group waits for its time as it would.
    gap: { type: 'string', default: '3' },
  },
});
const N = Number(values.recipients);
const WAVES = Number(values.waves);
const TEST_SHARE = Number(values['test-percent']) / 100;
const RATE = Number(values.rate);
const PREPARE_RATE = Number(values['prepare-rate']);
const GAP_MS = Number(values.gap) * 1000;

/** 31 zones whose offsets differ in December (the real grouping may merge a few). */
const ZONES = [
  'Pacific/Pago_Pago', 'Pacific/Honolulu', 'America/Anchorage', 'America/Los_Angeles', 'America/Denver', 'America/Chicago',
  'America/New_York', 'America/Halifax', 'America/St_Johns', 'America/Sao_Paulo', 'Atlantic/South_Georgia', 'Atlantic/Azores',
  'Europe/London', 'Europe/Paris', 'Europe/Athens', 'Europe/Moscow', 'Asia/Tehran', 'Asia/Dubai', 'Asia/Kabul', 'Asia/Karachi',
  'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Dhaka', 'Asia/Yangon', 'Asia/Bangkok', 'Asia/Shanghai', 'Asia/Tokyo',
  'Australia/Adelaide', 'Australia/Sydney', 'Pacific/Noumea', 'Pacific/Auckland',
];
const WALL = new Date(Date.now() + 48 * 3600_000).toISOString().slice(0, 10) + 'T09:00:00';

/** The real groups of a step (Luxon's offsets), their instants compressed to GAP_MS apart from `start`. */
function compressedGroups(messages: number, start: Date): LocalTimeGroup[] {
  const perZone = ZONES.map((zone) => ({ zone, messages: Math.round(messages / ZONES.length) }));
  return localTimeGroups(perZone, WALL, start, 'nextDay').map((g, i) => ({ ...g, at: new Date(start.getTime() + (i + 1) * GAP_MS).toISOString() }));
}

const testMessages = Math.round(N * TEST_SHARE);
const waveMessages = Math.round((N - testMessages) / WAVES);
const totals: SendingResult = { sent: 0, delivered: 0, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, errorsByReason: {} };
/** Each step's groups (by its claim scope) and how many of them were sent. */
const plans = new Map<string, { groups: LocalTimeGroup[]; sent: number }>();
const scopeKey = (s: { testOnly?: boolean; upToId?: number }) => (s.testOnly ? 'test' : s.upToId !== undefined ? `wave ≤${s.upToId}` : 'rest');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The delivery's first sending attempt (the real one reads it from the database): later attempts signal less. */
let sendingStartedAt: Date | undefined;

function standIns(signal: (id: string, r: never) => Promise<void>) {
  /** Runs for `messages / rate` seconds with the real ticker (heartbeats, and progress signals as the real activities send them). */
  async function work(phase: 'preparation' | 'sending', messages: number, rate: number): Promise<void> {
    const started = Date.now();
    const base = totals.sent;
    const done = () => Math.min(messages, Math.floor(((Date.now() - started) / 1000) * rate));
    const report = () => (phase === 'sending'
      ? { phase, ...totals, sent: base + done(), delivered: base + done(), cursor: done() }
      : { phase, processed: done(), cursor: done() });
    if (phase === 'sending') sendingStartedAt ??= new Date();
    const ticker = startProgress(Context.current(), report as never, signal as never, 1000, phase === 'sending' ? sendingStartedAt : undefined);
    while (done() < messages) await sleep(50);
    await ticker.stop();
  }
  return {
    prepareDelivery: async (): Promise<PreparationResult> => {
      await work('preparation', N, PREPARE_RATE);
      return {
        targeted: N, toDeliver: N, toExclude: 0, exclusions: {}, warnings: [],
        variants: { A: testMessages / 2, B: testMessages / 2 },
        waves: Array.from({ length: WAVES }, (_, i) => ({ messages: waveMessages, lastId: N * (i + 1) })),
        localTime: compressedGroups(testMessages, new Date()),
      };
    },
    planLocalTime: async ({ scope, startAt }: LocalTimeInput) => {
      const messages = scope.testOnly ? testMessages : waveMessages;
      const groups = compressedGroups(messages, new Date(startAt));
      plans.set(scopeKey(scope), { groups, sent: 0 });
      return groups;
    },
    sendDelivery: async (input: { testOnly?: boolean; upToId?: number }): Promise<SendingResult> => {
      const plan = plans.get(scopeKey(input))!;
      let due = 0;
      for (; plan.sent < plan.groups.length && Date.parse(plan.groups[plan.sent].at) <= Date.now(); plan.sent++) due += plan.groups[plan.sent].messages;
      await work('sending', due, RATE);
      totals.sent += due;
      totals.delivered += due;
      const next = plan.groups[plan.sent];
      return { ...totals, ...(next ? { nextRetryAt: next.at } : {}) };
    },
    judgeAbTest: async () => ({ tallies: [], verdict: { kind: 'winner', name: 'B', pValue: 0.001, rates: { A: 0.02, B: 0.03 } } }),
    giveRestTheWinner: async () => ({ messages: N - testMessages }),
    stopDelivery: async () => ({ ...totals, cancelled: 0 }),
    sendProof: async () => ({ sent: 1, failed: 0 }),
    checkSpec: async () => [] as string[],
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `plan-history-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const server = await startDevServer(temporalCliPath(), dir, await freePort(), 0, { headless: true });
  const connection = await Connection.connect({ address: server.address });
  await ensureSearchAttributes(connection, 'default');
  const client = new Client({ connection });
  const signals = progressSignals(client);
  const taskQueue = 'plan-history-bench';
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue, workflowsPath: require.resolve('../workflows'), activities: standIns(signals.send as never),
    maxHeartbeatThrottleInterval: '1 second', defaultHeartbeatThrottleInterval: '1 second',
  });
  const running = worker.run();
  try {
    const t = Date.now();
    const handle = await startDelivery(client, taskQueue, {
      name: 'Plan history bench', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours: 0,
      variants: [{ name: 'A', subject: 'Hi A' }, { name: 'B', subject: 'Hi B' }],
      abTest: { percent: Number(values['test-percent']), winnerBy: 'clicks', decideAfter: '5s' },
      waves: { count: WAVES, every: '5s' },
      scheduleAt: WALL, timeZone: 'recipient', ifPassed: 'nextDay',
    });
    const { kpis } = await handle.result();
    const minutes = (Date.now() - t) / 60_000;
    const byType = new Map<string, number>();
    let runs = 0;
    let longest = 0;
    for (let runId: string | undefined = handle.firstExecutionRunId; runId; runs++) {
      const events: temporal.api.history.v1.IHistoryEvent[] = (await client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
      longest = Math.max(longest, events.length);
      for (const e of events) {
        const type = e.workflowExecutionSignaledEventAttributes ? `signal ${e.workflowExecutionSignaledEventAttributes.signalName}`
          : (temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? 'unknown').replace(/^EVENT_TYPE_/, '').toLowerCase();
        byType.set(type, (byType.get(type) ?? 0) + 1);
      }
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    const total = [...byType.values()].reduce((a, b) => a + b, 0);
    const groups = [...plans.values()].reduce((a, p) => a + p.groups.length, 0);
    console.log(`${kpis.sent} sent (A/B test ${testMessages}, ${WAVES} waves, ${plans.size} steps, ${groups} zone groups) in ${minutes.toFixed(1)} min: ` +
      `${total} history events in ${runs} run(s), the longest ${longest}`);
    for (const [type, n] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(5)}  ${type}`);
  } finally {
    worker.shutdown();
    await running;
    await signals.close();
    await connection.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
