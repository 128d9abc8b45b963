// Waits that last hours or days, in seconds, on Temporal's time-skipping test server: a provider suspended by a
// traffic shaping rule, a warm-up's daily allowance, a sending window across a DST change. The sending activity is a
// fake that applies the real rules of the domain (shaping rules, warm-up allowance, windows) at the server's time
// and answers as the real one does: what it sent, and until when the rest is held and why. The workflow must wait on
// durable timers, the rest of the audience going on meanwhile.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import type { PreparationResult, SendingResult } from '../../domain/delivery';
import { BUILT_IN_RULES, matchRule } from '../../domain/shaping-rules';
import { windowState } from '../../domain/sending-windows';
import { allowanceOn, nextUtcDay, utcDay, type WarmupPlan } from '../../domain/warmup';
import { parseDeliverySpec, type DeliverySpec } from '../../domain/spec';
import type { emailDelivery } from '../../workflows';
import { logsQuery, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages';
import { IDLE_ACTIVITIES, startTimeSkipping, type TimeSkipping } from '../helpers/time-skipping';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof emailDelivery>;
const HOUR = 3600_000;

/** One call of the fake sending activity: when the server scheduled it, and what it sent. */
interface SendCall {
  deliveryId: string;
  at: number;
  sent: number;
}

let env: TestWorkflowEnvironment;
let server: TimeSkipping;
const taskQueue = `plans-${randomBytes(3).toString('hex')}`;
let toDeliver = 10;
let calls: SendCall[] = [];
/** What the fake sends at a server time: the delivery's totals so far, and the hold of the rest. */
let sendAt: (now: number, spec: DeliverySpec) => { sent: number; hold?: { until: number; because: string } };
const specs = new Map<string, DeliverySpec>();

const totals = (sent: number, extra: Partial<SendingResult> = {}): SendingResult => ({
  sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, errorsByReason: {}, ...extra,
});

beforeAll(async () => {
  server = await startTimeSkipping(taskQueue, {
    prepareDelivery: async ({ deliveryId, spec }: { deliveryId: string; spec: DeliverySpec }): Promise<PreparationResult> => {
      specs.set(deliveryId, spec);
      return { targeted: toDeliver, toDeliver, toExclude: 0, exclusions: {}, warnings: [] };
    },
    sendDelivery: async ({ deliveryId }: { deliveryId: string }): Promise<SendingResult> => {
      const now = Context.current().info.currentAttemptScheduledTimestampMs; // the server's (skipped) time
      const { sent, hold } = sendAt(now, specs.get(deliveryId)!);
      calls.push({ deliveryId, at: now, sent });
      return totals(sent, hold ? { nextRetryAt: new Date(hold.until).toISOString(), held: hold.because } : {});
    },
    stopDelivery: async () => ({ ...totals(0), cancelled: 0 }),
    ...IDLE_ACTIVITIES,
  });
  env = server.env;
});

afterAll(async () => server?.close());

beforeEach(() => {
  calls = [];
});

/** The fake's calls for one delivery. */
const callsOf = (handle: Handle) => calls.filter((c) => c.deliveryId === handle.workflowId);

function start(overrides: Record<string, unknown> = {}): Promise<Handle> {
  const spec = { name: 'Plans', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours: 0, ...overrides };
  expect(parseDeliverySpec(spec).ok).toBe(true);
  return env.client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, {
    taskQueue, workflowId: `delivery-${randomBytes(4).toString('hex')}`, args: [spec as never, { heartbeatTimeoutSeconds: 1 }],
  });
}

/** Polls the status query until its situation matches (time does not skip while the test is not waiting on a result). */
async function situation(handle: Handle, pattern: RegExp): Promise<string> {
  let last = '';
  for (let i = 0; i < 400; i++) {
    last = (await handle.query(statusQuery).catch(() => undefined))?.situation ?? '';
    if (pattern.test(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${handle.workflowId}: situation never matched ${pattern} (last: ${last})`);
}

const logs = async (handle: Handle) => (await handle.query(logsQuery, { limit: 1000 })).entries.map((e) => e.message);

describe('holds of hours and days on durable timers (time-skipping server)', () => {
  it('a suspension rule holds one provider for its 2 hours while the others send', async () => {
    toDeliver = 10; // 5 at gmail.com, 5 at yahoo.com
    const suspended: { until?: number } = {};
    sendAt = (now) => {
      if (suspended.until === undefined) {
        // Yahoo answers its TSS04 deferral: the built-in rule says how long to hold it.
        const rule = matchRule(BUILT_IN_RULES, 'yahoo', 421, '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints');
        expect(rule?.action).toEqual({ kind: 'suspend', forMs: 2 * HOUR });
        suspended.until = now + (rule!.action.kind === 'suspend' ? rule!.action.forMs : 0);
        return { sent: 5, hold: { until: suspended.until, because: `yahoo suspended until ${new Date(suspended.until).toISOString()}: suspend for 2h (yahoo-tss04)` } };
      }
      return { sent: now >= suspended.until ? 10 : 5 };
    };
    const handle = await start();
    expect(await situation(handle, /^Waiting until /)).toMatch(/yahoo suspended until .*\(yahoo-tss04\) \(5 \/ 10 /);
    expect((await handle.result()).kpis).toMatchObject({ sent: 10, pending: 0 });
    expect(callsOf(handle)).toHaveLength(2);
    expect(callsOf(handle)[0].sent).toBe(5); // Google's half went out at once
    expect(callsOf(handle)[1].at - callsOf(handle)[0].at).toBeGreaterThanOrEqual(2 * HOUR); // Yahoo's waited out the suspension, no earlier
    expect(callsOf(handle)[1].at - callsOf(handle)[0].at).toBeLessThan(2 * HOUR + 60_000);
    expect((await logs(handle)).some((l) => /5 message\(s\) wait: yahoo suspended/.test(l))).toBe(true);
  });

  it('warm-up: 3,000 recipients under a 1,000/day allowance go out over 3 days, on timers', async () => {
    toDeliver = 3000;
    const plan: WarmupPlan = { senderDomain: 'shop.example', fromPerDay: 1000, growth: 1, untilPerDay: 1000, startedOn: utcDay(await env.currentTimeMs()) };
    const usedOn = new Map<string, number>();
    let sent = 0;
    sendAt = (now) => {
      const day = utcDay(now);
      const take = Math.min(toDeliver - sent, allowanceOn(plan, day) - (usedOn.get(day) ?? 0));
      usedOn.set(day, (usedOn.get(day) ?? 0) + take);
      sent += take;
      if (sent === toDeliver) return { sent };
      return { sent, hold: { until: Date.parse(nextUtcDay(now)), because: `the warm-up of shop.example allows ${allowanceOn(plan, day)} messages to google on ${day}, all sent` } };
    };
    const handle = await start();
    expect(await situation(handle, /^Waiting until /)).toMatch(/warm-up of shop\.example allows 1000 .*\(1000 \/ 3000 /);
    expect((await handle.result()).kpis).toMatchObject({ sent: 3000, pending: 0 });
    expect(callsOf(handle).map((c) => c.sent)).toEqual([1000, 2000, 3000]);
    expect(new Set(callsOf(handle).map((c) => utcDay(c.at))).size).toBe(3); // three days
    for (const c of callsOf(handle).slice(1)) expect(new Date(c.at).toISOString()).toMatch(/T00:00:0\d/); // each at the start of its day
  });

  it('a delivery started outside its window waits and starts when it opens, across a DST change (08:00 Paris is 06:00 UTC)', async () => {
    toDeliver = 10;
    // The Saturday before the clocks go forward in Europe (last Sunday of March), at noon UTC.
    const now = await env.currentTimeMs();
    let year = new Date(now).getUTCFullYear();
    const saturdayBefore = (y: number) => {
      const march31 = DateTime.fromObject({ year: y, month: 3, day: 31, hour: 12 }, { zone: 'UTC' });
      return march31.minus({ days: (march31.weekday % 7) + 1 }); // back to the last Sunday (weekday 7), then a day more
    };
    while (saturdayBefore(year).toMillis() <= now + HOUR) year++;
    const saturday = saturdayBefore(year);
    await env.sleep(saturday.toMillis() - now);
    const window = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '20:00', timeZone: 'Europe/Paris' };
    sendAt = (at, spec) => {
      const w = windowState(spec.windows!, new Date(at));
      return w.open ? { sent: 10 } : { sent: 0, hold: { until: Date.parse(w.opensAt), because: `outside the sending window: it opens at ${w.opensAt}` } };
    };
    const handle = await start({ windows: window });
    expect(await situation(handle, /^Waiting until /)).toMatch(/outside the sending window/);
    expect((await handle.result()).kpis).toMatchObject({ sent: 10 });
    expect(callsOf(handle).map((c) => c.sent)).toEqual([0, 10]);
    expect(saturday.plus({ days: 1 }).setZone('Europe/Paris').isInDST).toBe(true); // the clocks went forward that Sunday…
    expect(saturday.setZone('Europe/Paris').isInDST).toBe(false); // …not before
    const monday = saturday.plus({ days: 2 }).toISODate();
    // Summer time began on Sunday: Monday 08:00 in Paris is 06:00 UTC (07:00 a week earlier).
    expect(new Date(callsOf(handle)[1].at).toISOString()).toMatch(new RegExp(`^${monday}T06:00:0\\d`));
  });
});
