// A time per recipient on Temporal's time-skipping test server: their local time, or their best time. The fake
// activities compute the groups with the real domain code (domain/local-time.ts with Luxon's tz data, from fixed
// messages per zone; domain/optimal-time.ts from fixed histories); the workflow waits for each group on a durable
// timer: across a DST change, with a time already passed (ifPassed), combined with an A/B test and waves in one
// delivery, and the best time with and without history.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { LocalTimeInput } from '../../activities/local-time';
import type { PreparationResult, SendingResult } from '../../domain/delivery';
import { localTimeGroups } from '../../domain/local-time';
import { audiencePattern, bestHour, emptyHistory, hourOfWeek, type History } from '../../domain/optimal-time';
import type { IfPassed } from '../../domain/sending-plan';
import { parseDeliverySpec } from '../../domain/spec';
import type { emailDelivery } from '../../workflows';
import { logsQuery, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages';
import { IDLE_ACTIVITIES, startTimeSkipping, type TimeSkipping } from '../helpers/time-skipping';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof emailDelivery>;
const HOUR = 3600_000;

let env: TestWorkflowEnvironment;
let server: TimeSkipping;
const taskQueue = `local-${randomBytes(3).toString('hex')}`;
/** Messages per zone of the fake target (the A/B test population is a tenth of each). */
let zones: Record<string, number> = {};
/** The best time's fake audience: recipients' histories, and how many have none. */
let histories: History[] = [];
let withoutHistory = 0;
/** The share of each zone's messages a step after the A/B test plans (with waves: each wave's). */
let restShare = 1;
let calls: Array<{ what: string; at: number }> = [];

const totals = (sent: number): SendingResult => ({ sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, errorsByReason: {} });
const now = () => Context.current().info.currentAttemptScheduledTimestampMs;
const perZone = (share: number) => Object.entries(zones).map(([zone, n]) => ({ zone, messages: Math.round(n * share) }));
const all = () => Object.values(zones).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  server = await startTimeSkipping(taskQueue, {
    prepareDelivery: async ({ spec }: { spec: { scheduleAt: string; ifPassed: IfPassed; waves?: unknown; abTest?: unknown } }): Promise<PreparationResult> => ({
      targeted: all(), toDeliver: all(), toExclude: 0, exclusions: {}, warnings: [],
      localTime: localTimeGroups(perZone(1), spec.scheduleAt, new Date(now()), spec.ifPassed),
      ...(spec.abTest ? { variants: { A: all() / 20, B: all() / 20 } } : {}),
      ...(spec.waves ? { waves: [{ messages: all() * 0.45, lastId: 1 }, { messages: all() * 0.45, lastId: 2 }] } : {}),
    }),
    planLocalTime: async ({ scope, startAt, scheduleAt, ifPassed }: LocalTimeInput) => {
      calls.push({ what: `plan ${scope.testOnly ? 'test' : scope.upToId !== undefined ? `wave ≤${scope.upToId}` : 'rest'}`, at: now() });
      return localTimeGroups(perZone(scope.testOnly ? 0.1 : restShare), scheduleAt, new Date(startAt), ifPassed);
    },
    sendDelivery: async ({ testOnly, upToId }: { testOnly?: boolean; upToId?: number }): Promise<SendingResult> => {
      calls.push({ what: testOnly ? 'send test' : upToId !== undefined ? `send wave ≤${upToId}` : 'send', at: now() });
      return totals(all());
    },
    planOptimalTimes: async ({ startAt }: { startAt: string }) => {
      calls.push({ what: 'plan best times', at: now() });
      // The real choice (domain/optimal-time.ts) on the fake audience's histories: one group per hour chosen.
      const start = new Date(startAt);
      const pattern = audiencePattern(histories);
      const perHour = new Map<number, number>();
      for (const h of [...histories, ...Array.from({ length: withoutHistory }, emptyHistory)]) {
        const hour = bestHour(h, pattern, start) ?? 0;
        perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
      }
      return [...perHour].sort((a, b) => a[0] - b[0]).map(([hour, messages]) => ({ at: new Date(start.getTime() + hour * HOUR).toISOString(), offsets: [], zones: [], messages }));
    },
    judgeAbTest: async () => ({ tallies: [], verdict: { kind: 'too early', short: ['A', 'B'], rates: { A: 0.01, B: 0.02 } } }),
    giveRestTheWinner: async () => ({ messages: all() * 0.9 }),
    stopDelivery: async () => ({ ...totals(0), cancelled: all() }),
    ...IDLE_ACTIVITIES,
  });
  env = server.env;
});

afterAll(async () => server?.close());
beforeEach(() => {
  calls = [];
  restShare = 1;
});

function start(extra: Record<string, unknown>, options: Record<string, unknown> = {}): Promise<Handle> {
  const spec = { name: 'Local time', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours: 0, timeZone: 'recipient', ...extra };
  const parsed = parseDeliverySpec(spec);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return env.client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, {
    taskQueue, workflowId: `delivery-${randomBytes(4).toString('hex')}`, args: [spec as never, { heartbeatTimeoutSeconds: 1, ...options }],
  });
}

const sends = () => calls.filter((c) => c.what.startsWith('send')).map((c) => [c.what, new Date(c.at).toISOString().slice(0, 16)]);
/**
 * The server's clock moves on by years between tests (the time-skipping server skips ahead while a test awaits a
 * result), so each DST test takes the change of the year after the server's now: the last Sunday of a month (EU rule).
 */
async function lastSundayNextYear(month: number): Promise<string> {
  const year = new Date(Number(await env.currentTimeMs())).getUTCFullYear() + 1;
  const last = new Date(Date.UTC(year, month, 0)); // the month's last day
  last.setUTCDate(last.getUTCDate() - last.getUTCDay());
  return last.toISOString().slice(0, 10);
}
const dayAfter = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 24 * HOUR).toISOString().slice(0, 10);

/** The wall time `hours` from the server's now, in UTC, without offset ("2026-12-06T17:40:00"). */
const wallIn = async (hours: number) => new Date(Math.floor((Number(await env.currentTimeMs()) + hours * HOUR) / 60_000) * 60_000).toISOString().slice(0, 19);

describe('a time per recipient on durable timers (time-skipping server)', () => {
  it('sends each group of zones at 09:00 local on the day Europe moves to summer time, and waits scheduled until the first', async () => {
    zones = { 'Asia/Tokyo': 20, 'Europe/Paris': 40, 'Europe/London': 20, 'America/New_York': 20 };
    const spring = await lastSundayNextYear(3);
    const handle = await start({ scheduleAt: `${spring}T09:00:00` });
    for (let i = 0; i < 200 && (await handle.query(statusQuery)).state !== 'scheduled'; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await handle.query(statusQuery)).situation).toMatch(new RegExp(`^Scheduled: sending starts at ${spring}T00:00:00.000Z`));
    await handle.result();
    // Paris is UTC+2 from that night (07:00Z, not 08:00Z); New York moved two weeks before (13:00Z).
    expect(sends()).toEqual([['send', `${spring}T00:00`], ['send', `${spring}T07:00`], ['send', `${spring}T08:00`], ['send', `${spring}T13:00`]]);
    const status = await handle.query(statusQuery);
    expect(status.localTime?.groups.map((g) => [g.offsets.join(), g.messages, g.state])).toEqual([
      ['+09:00', 20, 'sent'], ['+02:00', 40, 'sent'], ['+01:00', 20, 'sent'], ['-04:00', 20, 'sent'],
    ]);
    const logs = (await handle.query(logsQuery, { limit: 1000 })).entries.map((e) => e.message);
    expect(logs).toContain('Sending time zones group 2 of 4 (UTC+02:00: 40 messages)');
  });

  it.each([
    ['now', [0, 3]], // UTC and Tokyo at once, UTC−5 at its time
    ['nextDay', [3, 13, 22]], // UTC−5 at its time, Tokyo and UTC 24 h after theirs
  ])('a local time already passed in some zones: ifPassed "%s"', async (ifPassed, hours) => {
    zones = { UTC: 10, 'Asia/Tokyo': 10, 'Etc/GMT+5': 10 }; // UTC−5 is "Etc/GMT+5"
    const wall = await wallIn(-2); // 2 h ago in UTC, 11 h ago in Tokyo, 3 h ahead at UTC−5
    const t0 = Number(await env.currentTimeMs());
    await (await start({ scheduleAt: wall, ifPassed })).result();
    expect(calls.filter((c) => c.what === 'send').map((c) => Math.round((c.at - t0) / HOUR))).toEqual(hours);
  });

  it('continues as new in a long plan (a round that starts on a long history) and sends each group once, at its time', async () => {
    zones = Object.fromEntries(['Etc/GMT-9', 'Etc/GMT-6', 'Etc/GMT-3', 'UTC', 'Etc/GMT+3', 'Etc/GMT+6', 'Etc/GMT+9', 'Etc/GMT+11'].map((z) => [z, 5]));
    const wall = await wallIn(24);
    const handle = await start({ scheduleAt: wall, ifPassed: 'nextDay' }, { maxHistoryEvents: 60 });
    await handle.result();
    const expected = [-9, -6, -3, 0, 3, 6, 9, 11].map((offset) => ['send', new Date(Date.parse(`${wall}Z`) + offset * HOUR).toISOString().slice(0, 16)]);
    expect(sends()).toEqual(expected);
    const first = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
    expect(first.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    expect((await handle.query(statusQuery)).localTime?.groups.every((g) => g.state === 'sent')).toBe(true);
  });

  it('combines an A/B test, waves and local time: each step at the local time it reaches, across the autumn DST change', async () => {
    zones = { 'Europe/Paris': 40, 'America/New_York': 40 };
    restShare = 0.45;
    const autumn = await lastSundayNextYear(10); // Paris back to UTC+1 that night; New York a week or so later
    const [saturday, monday] = [dayAfter(autumn, -1), dayAfter(autumn, 1)];
    const handle = await start({
      scheduleAt: `${saturday}T09:00:00`, ifPassed: 'nextDay',
      variants: [{ name: 'A', subject: 'a' }, { name: 'B', subject: 'b' }], abTest: { percent: 10, winnerBy: 'clicks', decideAfter: '4h' },
      waves: { count: 2, every: '1h' },
    });
    await handle.result();
    // The test on Saturday (Paris still UTC+2: 07:00Z), decided 4 h after New York's group; the rest in two waves, each
    // at the next 09:00 it can reach: Sunday (Paris at UTC+1: 08:00Z), then Monday.
    expect(sends()).toEqual([
      ['send test', `${saturday}T07:00`], ['send test', `${saturday}T13:00`],
      ['send wave ≤1', `${autumn}T08:00`], ['send wave ≤1', `${autumn}T13:00`],
      ['send', `${monday}T08:00`], ['send', `${monday}T13:00`],
    ]);
    expect(calls.filter((c) => c.what.startsWith('plan')).map((c) => c.what)).toEqual(['plan test', 'plan wave ≤1', 'plan rest']);
    const status = await handle.query(statusQuery);
    expect(status.abTest).toMatchObject({ phase: 'decided', winner: 'B' });
    expect(status.waves?.map((w) => w.state)).toEqual(['sent', 'sent']);
    expect(status.localTime).toMatchObject({ step: 'wave 2' });
  });

  it.each([
    ['with history', 10, 10, [0, 3, 9]], // 21 without history at the start, 10 readers at 12:00, 10 at 18:00
    ['without history', 0, 0, [0]], // everyone at the start
  ])('sends at the best time per recipient %s, one timer per hour chosen', async (_, at12, at18, hours) => {
    const week = (hour: number) => {
      const h = emptyHistory();
      h[hourOfWeek(new Date(Date.UTC(2026, 11, 10, hour)))] = 3; // Thursdays
      return h;
    };
    histories = [...Array.from({ length: at12 }, () => week(12)), ...Array.from({ length: at18 }, () => week(18))];
    withoutHistory = 21;
    const thursday = await lastSundayNextYear(6).then((sunday) => dayAfter(sunday, -3)); // a Thursday in June
    const handle = await start({ timeZone: undefined, sendTime: 'optimal', scheduleAt: `${thursday}T09:00:00Z` });
    await handle.result();
    expect(calls.filter((c) => c.what === 'send').map((c) => Math.round((c.at - Date.parse(`${thursday}T09:00:00Z`)) / 60_000) / 60)).toEqual(hours);
    const status = await handle.query(statusQuery);
    expect(status.localTime?.groups.map((g) => [g.messages, g.state])).toEqual(hours.length === 1 ? [[21, 'sent']] : [[21, 'sent'], [10, 'sent'], [10, 'sent']]);
    const logs = (await handle.query(logsQuery, { limit: 1000 })).entries.map((e) => e.message);
    expect(logs).toContain(`Sending hour group 1 of ${hours.length} (09:00 UTC: 21 messages)`);
  });
});
