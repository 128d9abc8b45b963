// The delivery workflow's state machine on Temporal's time-skipping test server, with fake activities:
// every transition of domain/lifecycle.ts, contact dates days ahead, soft-retry timers, the tracking period
// and continue-as-new run in seconds. The states a delivery went through are read back from its history
// (each move upserts the DeliveryState search attribute), so the walk is what the workflow really did.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DeliveryState, PreparationResult, SendingResult } from '../../domain/delivery';
import { COMMANDS, judgeCommand, TRANSITIONS, type DeliveryCommand } from '../../domain/lifecycle';
import type { emailDelivery } from '../../workflows';
import type { DeliveryRunOptions } from '../../workflows/delivery';
import { editUpdate, kpisQuery, logsQuery, progressSignal, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages';
import { startTimeSkipping, type TimeSkipping } from '../helpers/time-skipping';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof emailDelivery>;
const HOUR = 3600_000;

/** What the fake activities do; each test sets what it needs. */
interface Fakes {
  prepare(input: { runKey: string }): Promise<PreparationResult>;
  send(input: { round: string; lane: number }): Promise<SendingResult>;
  calls: string[];
}

const prepared = (toDeliver: number, warnings: string[] = []): PreparationResult => ({
  targeted: toDeliver + 1, toDeliver, toExclude: 1, exclusions: { duplicate: 1 }, warnings,
});
const totals = (sent: number, extra: Partial<SendingResult> = {}): SendingResult => ({
  sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, errorsByReason: {}, ...extra,
});
/** A sending or preparation that runs until cancelled (pause, stop), heartbeating as the real ones do. */
async function untilCancelled<T>(): Promise<T> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(50); // throws once the cancellation arrives
  }
}

let env: TestWorkflowEnvironment;
let server: TimeSkipping;
const taskQueue = `lifecycle-${randomBytes(3).toString('hex')}`;
const fakes: Fakes = { prepare: async () => prepared(3), send: async () => totals(3), calls: [] };
const seen = new Set<string>();

beforeAll(async () => {
  server = await startTimeSkipping(taskQueue, {
    prepareDelivery: async (input: { runKey: string }) => {
      fakes.calls.push(`prepare ${input.runKey.split('#')[1]}`);
      return fakes.prepare(input);
    },
    sendDelivery: async (input: { round: string; lane: number }) => {
      fakes.calls.push(`send lane ${input.lane}`);
      return fakes.send(input);
    },
    stopDelivery: async () => {
      fakes.calls.push('stop');
      return { ...totals(1), cancelled: 2 };
    },
    sendProof: async ({ number }: { number: number }) => {
      fakes.calls.push(`proof ${number}`);
      return { sent: 1, failed: 0 };
    },
    checkSpec: async ({ spec }: { spec: { html?: string } }) => (spec.html?.includes('{{#if}}') ? ['html: {{#if}} needs a condition'] : []),
  });
  env = server.env;
});

afterAll(async () => server?.close());

beforeEach(() => {
  fakes.prepare = async () => prepared(3);
  fakes.send = async () => totals(3);
  fakes.calls = [];
});

const spec = (overrides: Record<string, unknown> = {}) => ({
  name: 'Lifecycle', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours: 0, ...overrides,
});

/** Heartbeats every 0.8 s carry cancellations (pause, stop) to the fake activities quickly. */
function start(overrides: Record<string, unknown> = {}, options: DeliveryRunOptions = {}): Promise<Handle> {
  return env.client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, {
    taskQueue, workflowId: `delivery-${randomBytes(4).toString('hex')}`, args: [spec(overrides) as never, { heartbeatTimeoutSeconds: 1, ...options }],
  });
}

/** A date ahead on the test server's clock (which runs ahead of real time once a test skipped some). */
const inServerTime = async (ms: number) => new Date((await env.currentTimeMs()) + ms).toISOString();

/** The message of a delivery's failure (the client error wraps it). */
async function failureOf(handle: Handle): Promise<string> {
  const error = await handle.result().then(() => undefined, (e: { cause?: { message?: string } }) => e);
  return error?.cause?.message ?? 'no failure';
}

/** Polls the status query (time does not skip while the test is not waiting on a result). */
async function reach(handle: Handle, state: DeliveryState): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status?.state === state) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${handle.workflowId} did not reach ${state} (last: ${(await handle.query(statusQuery)).state})`);
}

const logs = async (handle: Handle) => (await handle.query(logsQuery, { limit: 1000 })).entries.map((e) => `${e.level}: ${e.message}`);

/** The states a delivery went through, every run of it, from the DeliveryState upserts of its history. */
async function path(handle: Handle): Promise<DeliveryState[]> {
  const states: DeliveryState[] = [];
  for (let runId: string | undefined = handle.firstExecutionRunId; runId;) {
    const history = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    runId = undefined;
    for (const event of history.events ?? []) {
      const payload = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DeliveryState;
      if (payload) {
        const state = defaultPayloadConverter.fromPayload<DeliveryState>(payload);
        if (states[states.length - 1] !== state) states.push(state);
      }
      runId = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? runId;
    }
  }
  states.forEach((s, i) => i > 0 && seen.add(`${states[i - 1]}→${s}`));
  return states;
}

describe('the delivery lifecycle on the time-skipping server', () => {
  it('sends at once with auto approval, then waits out a two-day tracking period in no time', async () => {
    const started = Date.now();
    const handle = await start({ trackingHours: 48, parallelSenders: 2 });
    await reach(handle, 'sent');
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'sent', trackingUntil: expect.any(String) });
    expect(judgeCommand('stop', await handle.query(statusQuery))).toEqual({ ok: true }); // stop would end the tracking period
    await handle.signal(progressSignal, { phase: 'tracking', opens: 2, totalOpens: 5, clicks: 1, totalClicks: 1, unsubscriptions: 0, mirrorPageViews: 0, clicksByLink: { 'https://shop.example/': 1 } });
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'sent', kpis: { sent: 3, delivered: 3, opens: 2, openRate: 66.7, pending: 0 } });
    expect(await path(handle)).toEqual(['preparing', 'prepared', 'sending', 'sent']);
    expect([...fakes.calls].sort()).toEqual(['prepare 0', 'send lane 0', 'send lane 1']);
    expect(Date.now() - started).toBeLessThan(20_000); // 48 hours of tracking took seconds
  });

  it('stop during the tracking period ends it: the delivery stays sent', async () => {
    const handle = await start({ trackingHours: 24 * 7 });
    await reach(handle, 'sent');
    await handle.cancel();
    expect(await handle.result()).toMatchObject({ state: 'sent', kpis: { sent: 3 } });
    expect(fakes.calls).not.toContain('stop');
  });

  it('ends sent when every recipient was excluded, and failed on a critical preparation error (its rows stopped)', async () => {
    fakes.prepare = async () => prepared(0);
    const empty = await start();
    expect((await empty.result()).state).toBe('sent');
    expect(await path(empty)).toEqual(['preparing', 'sent']);
    expect(await logs(empty)).toContain('warning: Nothing to deliver: every targeted recipient was excluded');

    fakes.prepare = async () => {
      throw ApplicationFailure.nonRetryable('html: unclosed tag', 'InvalidTemplate');
    };
    const failing = await start();
    expect(await failureOf(failing)).toBe('Preparation failed: html: unclosed tag');
    expect(await path(failing)).toEqual(['preparing', 'failed']);
    expect(fakes.calls).toContain('stop');
    expect(await failing.query(statusQuery)).toMatchObject({ state: 'failed', error: 'html: unclosed tag' });

    fakes.calls = [];
    fakes.prepare = async () => {
      throw ApplicationFailure.nonRetryable('the delivery id belongs to an earlier delivery', 'DeliveryIdTaken');
    };
    const taken = await start();
    expect(await failureOf(taken)).toMatch(/^Preparation failed: the delivery id/);
    expect(fakes.calls).not.toContain('stop'); // the earlier delivery's rows are not this one's to stop
  });

  it('refuses a spec that does not parse at once, naming the field (a raw `temporal workflow start`)', async () => {
    const handle = await start({ approval: 'sometimes', trackingHours: -1 });
    expect(await failureOf(handle)).toMatch(/^Invalid delivery spec: approval: must be "auto".*; trackingHours: /);
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'failed' });
    expect(fakes.calls).toEqual([]);
  });

  it('stops during the preparation, while prepared, scheduled, sending and paused', async () => {
    fakes.prepare = untilCancelled;
    const preparing = await start();
    await reach(preparing, 'preparing');
    await new Promise((r) => setTimeout(r, 300)); // the preparation has started
    await preparing.cancel();
    await expect(preparing.result()).rejects.toThrow();
    expect(await path(preparing)).toEqual(['preparing', 'stopped']);

    fakes.prepare = async () => prepared(3);
    const waiting = await start({ approval: 'manual' });
    await reach(waiting, 'prepared');
    await waiting.cancel();
    await expect(waiting.result()).rejects.toThrow();
    expect(await path(waiting)).toEqual(['preparing', 'prepared', 'stopped']);

    const scheduled = await start({ scheduleAt: await inServerTime(72 * HOUR) });
    await reach(scheduled, 'scheduled');
    await scheduled.cancel();
    await expect(scheduled.result()).rejects.toThrow();
    expect(await path(scheduled)).toEqual(['preparing', 'prepared', 'scheduled', 'stopped']);

    fakes.calls = [];
    let recorded = false;
    fakes.send = async () => {
      await untilCancelled().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      recorded = true; // the attempt records what it sent before stopDelivery runs
      throw ApplicationFailure.nonRetryable('cancelled');
    };
    const sending = await start();
    await reach(sending, 'sending');
    await new Promise((r) => setTimeout(r, 300));
    await sending.cancel();
    await expect(sending.result()).rejects.toThrow();
    expect(recorded).toBe(true);
    expect(fakes.calls.slice(-1)).toEqual(['stop']);
    expect(await path(sending)).toEqual(['preparing', 'prepared', 'sending', 'stopped']);
    expect(await sending.query(kpisQuery)).toMatchObject({ sent: 1, pending: 0 });
    expect(await logs(sending)).toContain('warning: Delivery stopped: 1 sent, 2 messages cancelled and never sent');

    fakes.send = untilCancelled;
    const paused = await start();
    await reach(paused, 'sending');
    await paused.signal('pause');
    await reach(paused, 'paused');
    await paused.cancel();
    await expect(paused.result()).rejects.toThrow();
    expect(await path(paused)).toEqual(['preparing', 'prepared', 'sending', 'paused', 'stopped']);
  });

  it('waits for confirm and a proof of the current content; an edit prepares again and wants a new proof', async () => {
    const handle = await start({ approval: 'manual', proof: { to: ['qa@shop.example'], required: true } });
    await reach(handle, 'prepared');
    expect(await handle.query(statusQuery)).toMatchObject({ awaitingConfirm: true, proofMissing: true, proofList: true });
    await handle.signal('confirm'); // refused: no proof yet
    await handle.signal('proof');
    await eventuallyLogged(handle, 'info: Proof #1 sent to 1 address(es)');
    expect(await handle.query(statusQuery)).not.toHaveProperty('proofMissing');
    await expect(handle.executeUpdate(editUpdate, { args: [spec({ html: '{{#if}}' }) as never] })).rejects.toThrow();
    await handle.executeUpdate(editUpdate, { args: [spec({ subject: 'New', approval: 'manual', proof: { to: ['qa@shop.example'], required: true } }) as never] });
    await reach(handle, 'prepared');
    expect(await handle.query(statusQuery)).toMatchObject({ proofMissing: true });
    await handle.signal('proof');
    await eventuallyLogged(handle, 'info: Proof #2 sent to 1 address(es)');
    await handle.signal('confirm');
    expect((await handle.result()).state).toBe('sent');
    await expect(handle.executeUpdate(editUpdate, { args: [spec() as never] })).rejects.toThrow();
    expect(await path(handle)).toEqual(['preparing', 'prepared', 'preparing', 'prepared', 'sending', 'sent']);
    expect(fakes.calls).toEqual(['prepare 0', 'proof 1', 'prepare 1', 'proof 2', 'send lane 0']);
    const lines = await logs(handle);
    expect(lines).toContain('warning: confirm ignored: the delivery is prepared; a proof of the current content is required first: send one with the proof command');
    expect(lines).toContain('info: Content changed (version 1): the delivery is prepared again and needs a new proof');
  });

  it('waits for a contact date three days ahead; an edit while scheduled prepares again and keeps the date', async () => {
    const started = Date.now();
    const contactDate = await inServerTime(72 * HOUR);
    const handle = await start({ scheduleAt: contactDate, approval: 'semi' });
    await reach(handle, 'scheduled');
    await handle.executeUpdate(editUpdate, { args: [spec({ scheduleAt: contactDate, approval: 'semi', subject: 'Edited' }) as never] });
    await reach(handle, 'scheduled');
    const outcome = await handle.result(); // three days pass in the test server's time
    expect(outcome.kpis.sent).toBe(3);
    expect(await path(handle)).toEqual(['preparing', 'prepared', 'scheduled', 'preparing', 'prepared', 'scheduled', 'sending', 'sent']);
    expect(await logs(handle)).toContain(`info: Scheduled: sending starts at ${contactDate}`);
    expect(Date.now() - started).toBeLessThan(20_000); // three days took seconds
  });

  it('semi-automatic approval waits for confirm only when the preparation logged warnings', async () => {
    fakes.prepare = async () => prepared(3, ['a link has no text']);
    const handle = await start({ approval: 'semi' });
    await reach(handle, 'prepared');
    expect(await handle.query(statusQuery)).toMatchObject({ awaitingConfirm: true });
    await handle.signal('confirm');
    expect((await handle.result()).state).toBe('sent');
  });

  it('pauses and resumes (by ops, and after the engine paused itself), each round a new sending', async () => {
    const rounds: string[] = [];
    fakes.send = async ({ round }) => {
      rounds.push(round);
      if (rounds.length === 1) return untilCancelled();
      if (rounds.length === 2) return totals(1, { halted: { by: 'relay', reason: 'the relay refused our credentials: fix SMTP_URL, then resume' } });
      return totals(3);
    };
    const handle = await start();
    await reach(handle, 'sending');
    await handle.signal('pause');
    await reach(handle, 'paused');
    await handle.signal('pause'); // ignored: already paused
    await handle.signal('resume');
    await reach(handle, 'paused'); // the engine paused it
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'paused', pausedBecause: expect.stringMatching(/^the relay refused our credentials/) });
    await handle.signal('resume');
    expect((await handle.result()).kpis.sent).toBe(3);
    expect(new Set(rounds).size).toBe(3);
    expect(await path(handle)).toEqual(['preparing', 'prepared', 'sending', 'paused', 'sending', 'paused', 'sending', 'sent']);
    const lines = await logs(handle);
    expect(lines).toContain('error: Paused by the engine: the relay refused our credentials: fix SMTP_URL, then resume');
    expect(lines).toContain('warning: pause ignored: the delivery is paused; pause applies while sending');
  });

  it('retries soft failures at their retry time, hours apart, and continues as new when the history grows', async () => {
    let retries = 0;
    let due = 0;
    fakes.send = async () => {
      // The server's clock (ahead of real time), as the attempt was scheduled.
      const now = Context.current().info.currentAttemptScheduledTimestampMs;
      // As the real sender: a round before the retry time (the first of a run continued as new) sends nothing.
      if (now < due) return totals(retries, { nextRetryAt: new Date(due).toISOString() });
      if (++retries === 6) return totals(3);
      due = now + 6 * HOUR;
      return totals(retries, { nextRetryAt: new Date(due).toISOString() });
    };
    const before = await env.currentTimeMs();
    const handle = await start({ trackingHours: 24 }, { maxHistoryEvents: 30 });
    const outcome = await handle.result();
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(5 * 6 * HOUR + 24 * HOUR); // five retry timers and the tracking period ran
    expect(outcome).toMatchObject({ state: 'sent', kpis: { sent: 3, toDeliver: 3 } });
    const runs = await path(handle);
    expect(runs).toEqual(['preparing', 'prepared', 'sending', 'sent']);
    const lines = await logs(handle);
    expect(lines.filter((l) => l.startsWith('info: Continuing as new'))).not.toHaveLength(0);
    expect(lines.filter((l) => / waiting to retry after a soft failure/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(fakes.calls.filter((c) => c === 'prepare 0')).toHaveLength(1); // a continued run never prepares again
  });

  it('continues as new during a long tracking period with steady feedback, keeping its KPIs', async () => {
    const handle = await start({ trackingHours: 24 * 30 }, { maxHistoryEvents: 40 });
    await reach(handle, 'sent');
    const report = (opens: number) => ({ phase: 'tracking' as const, opens, totalOpens: opens, clicks: 0, totalClicks: 0, unsubscriptions: 0, mirrorPageViews: 0, clicksByLink: {} });
    for (let opens = 1; opens <= 30; opens++) await handle.signal(progressSignal, report(opens));
    // The Java test server drops a signal that lands while a run completes by continuing as new (Temporal's server
    // makes that run take it first): 1 run in 3 lost some here, before and after the progress channel changed.
    // Reports are totals, as the tracking server sends them: its next one (here, once things are quiet) makes up.
    await new Promise((r) => setTimeout(r, 300));
    await handle.signal(progressSignal, report(30));
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'sent', kpis: { sent: 3, opens: 30 } });
    expect(await logs(handle)).toContainEqual(expect.stringMatching(/^info: Continuing as new after \d+ history events$/));
  });

  it('judges every command in every state as the lifecycle says: applied, or ignored with the reason in the log', async () => {
    fakes.prepare = async (input) => (input.runKey.endsWith('#0') && blockPreparation ? untilCancelled() : prepared(3));
    fakes.send = untilCancelled;
    let blockPreparation = true;
    const at = async (state: DeliveryState, overrides: Record<string, unknown> = {}) => {
      const handle = await start(overrides);
      await reach(handle, state === 'paused' ? 'sending' : state);
      if (state === 'paused') {
        await handle.signal('pause');
        await reach(handle, 'paused');
      }
      return handle;
    };
    const deliveries: Array<[DeliveryState, Handle]> = [
      ['preparing', await at('preparing')],
    ];
    blockPreparation = false;
    deliveries.push(
      ['prepared', await at('prepared', { approval: 'manual' })],
      ['scheduled', await at('scheduled', { scheduleAt: await inServerTime(72 * HOUR) })],
      ['sending', await at('sending')],
      ['paused', await at('paused')],
    );
    for (const [state, handle] of deliveries) {
      const status = await handle.query(statusQuery);
      for (const command of COMMANDS.filter((c): c is Exclude<DeliveryCommand, 'edit' | 'stop'> => c !== 'edit' && c !== 'stop')) {
        const verdict = judgeCommand(command, status);
        if (verdict.ok) continue;
        await handle.signal(command);
        await eventuallyLogged(handle, `warning: ${command} ignored: the delivery is ${verdict.reason}`);
        expect((await handle.query(statusQuery)).state).toBe(state);
      }
      const edit = judgeCommand('edit', status);
      if (!edit.ok) await expect(handle.executeUpdate(editUpdate, { args: [spec() as never] })).rejects.toThrow();
      await handle.cancel();
      // Polled, not awaited as a result: waiting on a result lets the server skip time, and the deliveries still
      // to judge would move on (the scheduled one's contact date is three days ahead).
      await reach(handle, 'stopped');
    }
  });

  it('took every transition of the lifecycle (the deliveries above, read from their histories)', () => {
    const missing = Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.filter((to) => !seen.has(`${from}→${to}`)).map((to) => `${from}→${to}`));
    expect(missing).toEqual([]);
  });
});

async function eventuallyLogged(handle: Handle, line: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await logs(handle)).includes(line)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(await logs(handle)).toContain(line);
}
