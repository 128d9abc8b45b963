// What one run of a delivery knows, in one object: the phases and the handlers read and change it, and
// continue-as-new carries its lasting part (`CarriedState`) to the next run. It also says the state where
// ops look: the DeliveryState search attribute, key counts, and the Web UI's current details.
import * as wf from '@temporalio/workflow';
import { emptyKpis, percent, type DeliveryState, type Kpis, type LogEntry, type LogLevel, type PreparationResult } from '../domain/delivery';
import { kpiDetails, variantLines } from '../domain/kpi-table';
import { canMove, proofMissing, type LifecycleStatus } from '../domain/lifecycle';
import { situation, specFacts } from '../domain/situation';
import type { DeliverySpec } from '../domain/spec';
import { abTestSummary, type AbTestState } from '../domain/sending-plan';
import { waveStatuses, wavesSummary, type WavesState } from '../domain/waves';
import { localTimeStatus, localTimeSummary, type LocalTimePlan } from '../domain/local-time-plan';
import { DELIVERY_CONTACT_DATE, DELIVERY_ERRORS, DELIVERY_NAME, DELIVERY_OPENS, DELIVERY_PAUSED_BY, DELIVERY_SENT, DELIVERY_STATE, type CommandFate, type DeliveryStatus } from './messages';

export const MAX_LOGS = 1000;
/** Continue-as-new past this many events (progress signals are the only thing that grows). */
const MAX_HISTORY_EVENTS = 5000;
/** Key counts in search attributes move at most this often (each update is a history event). */
const COUNTS_REFRESH_MS = 15_000;

/** Second workflow argument: not part of the public contract (continue-as-new, tests). */
export interface DeliveryRunOptions {
  /** What a continued run takes over from the previous one. */
  carried?: CarriedState;
  maxHistoryEvents?: number;
  /** Heartbeat timeout of preparation and sending (default 10 s; fault tests shorten it). */
  heartbeatTimeoutSeconds?: number;
  /** Longest wait between two attempts of a failing activity (default 30 s). */
  retryMaxIntervalSeconds?: number;
  /** Set for the run that reconciles a delivery whose previous run was terminated or timed out (temporal/reconcile.ts). */
  reconcile?: Reconciliation;
}

/** A run that Temporal closed without our code (Terminate in the Web UI, `temporal workflow terminate`, a run timeout). */
export interface Reconciliation {
  runId: string;
  closedAs: 'terminated' | 'timed out';
  /** When it was closed (ISO). */
  at: string;
  reason?: string;
}

/** The lasting part of the context: what continue-as-new carries (its shape is in running histories: only add optional fields). */
export interface CarriedState {
  runKey: string;
  contentVersion: number;
  preparation: PreparationResult;
  kpis: Kpis;
  logs: LogEntry[];
  logOffset: number;
  paused: boolean;
  /** Why the engine paused the delivery by itself, until ops resume it. */
  pausedBecause?: string;
  /** The complaint breaker paused the delivery (until ops resume it). */
  complaintsTripped?: boolean;
  /** Complaints and deliveries ops accepted by resuming after the breaker: it judges only what comes after. */
  complaintBaseline?: { complaints: number; delivered: number };
  /** When ops accepted the complaints so far by resuming (ISO): the sender domain's breaker counts from then. */
  complaintsAcceptedAt?: string;
  proofsSent: number;
  /** Set once sent: the run only collects tracking feedback until then (ISO date). */
  trackingUntil?: string;
  /** The last command received and its fate. */
  lastCommand?: CommandFate;
  /** With an A/B test: its phase, and the winner once known. */
  abTest?: AbTestState;
  /** With waves: the wave being sent or waited for, and when each started and was sent. */
  waves?: WavesState;
  /** With the recipient's local time: the current step's groups of zones, and the one being sent or waited for. */
  localTime?: LocalTimePlan;
}

export interface DeliveryContext extends Omit<CarriedState, 'preparation'> {
  readonly deliveryId: string;
  readonly options: Required<Omit<DeliveryRunOptions, 'carried' | 'reconcile'>>;
  spec: DeliverySpec;
  state: DeliveryState;
  preparation?: PreparationResult;
  error?: string;
  preparedSoFar: number;
  /** Content version the last proof showed. */
  proofOfVersion?: number;
  awaitingConfirm: boolean;
  confirmed: boolean;
  proofRequested: boolean;
  /** The sending round in flight: a stop lets it record what it already sent. */
  sending?: Promise<unknown>;
  /** What the search attributes show already. */
  shown: { announced: boolean; counts: string; at: number };
  /** A run reconciling a terminated one, until it has read the counts back. */
  reconciling?: boolean;
  /** When the current sending round started and how many messages had an outcome then (the rate shown). */
  sendingSince?: { at: number; done: number };
  /** Between sending rounds: soft failures wait for their retry until then (ISO). */
  retryAt?: string;
  /** … or the messages left wait for this reason (the sending plan, a suspended provider). */
  heldBecause?: string;
}

export function newContext(spec: DeliverySpec, options: DeliveryRunOptions): DeliveryContext {
  const { carried, reconcile, maxHistoryEvents = MAX_HISTORY_EVENTS, heartbeatTimeoutSeconds = 10, retryMaxIntervalSeconds = 30 } = options;
  return {
    deliveryId: wf.workflowInfo().workflowId,
    options: { maxHistoryEvents, heartbeatTimeoutSeconds, retryMaxIntervalSeconds },
    spec,
    state: reconcile ? 'terminated' : carried?.trackingUntil ? 'sent' : carried ? 'sending' : 'preparing',
    // The chain's first run: a Reset starts a new run of the same chain, which must find its own preparation.
    runKey: carried?.runKey ?? wf.workflowInfo().firstExecutionRunId,
    contentVersion: carried?.contentVersion ?? 0,
    preparation: carried?.preparation,
    kpis: { ...emptyKpis(), ...carried?.kpis }, // a run continued from an older version may lack newer KPIs
    logs: carried?.logs ?? [],
    logOffset: carried?.logOffset ?? 0,
    paused: carried?.paused ?? false,
    pausedBecause: carried?.pausedBecause,
    complaintsTripped: carried?.complaintsTripped,
    complaintBaseline: carried?.complaintBaseline,
    complaintsAcceptedAt: carried?.complaintsAcceptedAt,
    proofsSent: carried?.proofsSent ?? 0,
    trackingUntil: carried?.trackingUntil,
    lastCommand: carried?.lastCommand,
    abTest: carried?.abTest,
    waves: carried?.waves,
    localTime: carried?.localTime,
    preparedSoFar: 0,
    awaitingConfirm: false,
    confirmed: false,
    proofRequested: false,
    shown: { announced: false, counts: '', at: 0 },
  };
}

export function log(ctx: DeliveryContext, level: LogLevel, message: string): void {
  ctx.logs.push({ time: new Date().toISOString(), level, message }); // workflow time: deterministic on replay
  if (ctx.logs.length > MAX_LOGS) {
    ctx.logs.shift();
    ctx.logOffset++;
  }
}

export const historyIsLong = (ctx: DeliveryContext): boolean =>
  wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > ctx.options.maxHistoryEvents;

/** Continues as new with the lasting part of the context (the spec as the workflow's argument). */
export async function continueAsNew(ctx: DeliveryContext): Promise<never> {
  // An update in progress is answered by this run, not lost (not cancellable: a stop now is the next run's to take).
  await wf.CancellationScope.nonCancellable(() => wf.condition(wf.allHandlersFinished));
  log(ctx, 'info', `Continuing as new after ${wf.workflowInfo().historyLength} history events`);
  const { runKey, contentVersion, preparation, kpis, logs, logOffset, paused, pausedBecause, complaintsTripped, complaintBaseline, complaintsAcceptedAt, proofsSent, trackingUntil, lastCommand, abTest, waves, localTime } = ctx;
  return wf.continueAsNew<(spec: DeliverySpec, options: DeliveryRunOptions) => Promise<unknown>>(ctx.spec, {
    ...ctx.options,
    carried: {
      runKey, contentVersion, preparation: preparation!, kpis, logs, logOffset, paused, pausedBecause, proofsSent, trackingUntil, lastCommand,
      ...(complaintsTripped ? { complaintsTripped } : {}), ...(complaintBaseline ? { complaintBaseline } : {}),
      ...(complaintsAcceptedAt ? { complaintsAcceptedAt } : {}), ...(abTest ? { abTest } : {}), ...(waves ? { waves } : {}),
      ...(localTime ? { localTime } : {}),
    },
  });
}

/**
 * Moves to a state (the lifecycle must allow it: anything else is a bug, and fails the workflow task until
 * fixed) and shows it: search attributes on a change, key counts, current details.
 */
export function moveTo(ctx: DeliveryContext, next: DeliveryState): void {
  if (!canMove(ctx.state, next)) throw new Error(`a delivery cannot move from ${ctx.state} to ${next}`);
  if (next !== ctx.state || !ctx.shown.announced) {
    wf.upsertSearchAttributes([
      { key: DELIVERY_STATE, value: next },
      // Ops filter the deliveries the engine paused (a cause to fix) apart from their own pauses.
      ...(next === 'paused' ? [{ key: DELIVERY_PAUSED_BY, value: ctx.pausedBecause ? 'engine' : 'ops' }] : []),
      ...(ctx.shown.announced ? [] : [{ key: DELIVERY_NAME, value: ctx.spec.name.slice(0, 200) }]),
      ...countsToShow(ctx, true),
    ]);
    ctx.state = next;
    ctx.shown.announced = true;
  }
  showDetails(ctx);
}

/** Key counts in search attributes: on state changes, and at most every COUNTS_REFRESH_MS while they move. */
export function showCounts(ctx: DeliveryContext, now = false): void {
  const counts = countsToShow(ctx, now);
  if (counts.length) wf.upsertSearchAttributes(counts);
  showDetails(ctx);
}

function countsToShow(ctx: DeliveryContext, now: boolean) {
  const { kpis } = ctx;
  const key = `${kpis.sent}/${kpis.failed}/${kpis.opens}`;
  if (key === ctx.shown.counts || (!now && Date.now() - ctx.shown.at < COUNTS_REFRESH_MS)) return [];
  ctx.shown.counts = key;
  ctx.shown.at = Date.now();
  return [{ key: DELIVERY_SENT, value: kpis.sent }, { key: DELIVERY_ERRORS, value: kpis.failed }, { key: DELIVERY_OPENS, value: kpis.opens }];
}

export const showContactDate = (date: Date): void => wf.upsertSearchAttributes([{ key: DELIVERY_CONTACT_DATE, value: date }]);

/**
 * The Web UI's current details: the situation in words, the last command and its fate, the KPIs, then what the
 * delivery is (subject, audience, approval), since a delivery started by `temporal workflow start` has no static details.
 */
export function showDetails(ctx: DeliveryContext): void {
  const c = ctx.lastCommand;
  wf.setCurrentDetails([
    `**${situationOf(ctx)}**`,
    ...(c ? [`Last command: ${c.message} (${c.at})`] : []),
    kpiDetails(ctx.state, ctx.kpis),
    ...(ctx.spec.abTest ? [[abTestSummary(ctx.abTest, ctx.spec.abTest), ...variantLines(ctx.kpis)].join('\n')] : []),
    ...(ctx.spec.waves && ctx.preparation?.waves?.length ? [wavesSummary(waveStatuses(ctx.preparation.waves, ctx.waves, ctx.spec.waves, ctx.kpis.sent))] : []),
    ...(ctx.localTime ? [localTimeSummary(ctx.localTime, Date.now())] : []),
    specFacts(ctx.spec).join(' · '),
  ].join('\n\n'));
}

function situationOf(ctx: DeliveryContext): string {
  const status = lifecycleStatus(ctx);
  return situation({
    state: ctx.state, kpis: ctx.kpis, approval: ctx.spec.approval, awaitingConfirm: status.awaitingConfirm, proofMissing: status.proofMissing,
    preparedSoFar: ctx.preparedSoFar, contactDate: contactDateOf(ctx), pausing: status.pausing, pausedBecause: ctx.pausedBecause,
    trackingUntil: ctx.trackingUntil, error: ctx.error, sendingSince: ctx.sendingSince, retryAt: ctx.retryAt, heldBecause: ctx.heldBecause, reconciling: ctx.reconciling, now: Date.now(),
  });
}

/** What the rules of domain/lifecycle.ts need, as the `status` query answers it. */
export function lifecycleStatus(ctx: DeliveryContext): LifecycleStatus {
  const { state, spec } = ctx;
  return {
    state,
    ...(state === 'prepared' && ctx.awaitingConfirm && !ctx.confirmed ? { awaitingConfirm: true } : {}),
    ...(state === 'prepared' && proofMissing(spec, ctx.contentVersion, ctx.proofOfVersion) ? { proofMissing: true } : {}),
    ...(state === 'prepared' && spec.proof ? { proofList: true } : {}),
    ...(ctx.paused && state === 'sending' ? { pausing: true } : {}),
    ...(state === 'sent' && ctx.trackingUntil && Date.parse(ctx.trackingUntil) > Date.now() ? { trackingUntil: ctx.trackingUntil } : {}),
  };
}

export function deliveryStatus(ctx: DeliveryContext): DeliveryStatus {
  return {
    ...lifecycleStatus(ctx),
    ...(ctx.error ? { error: ctx.error } : {}),
    ...(ctx.state === 'preparing' ? { preparedSoFar: ctx.preparedSoFar } : {}),
    ...(ctx.pausedBecause ? { pausedBecause: ctx.pausedBecause } : {}),
    ...(ctx.lastCommand ? { lastCommand: ctx.lastCommand } : {}),
    situation: situationOf(ctx),
    ...(ctx.abTest ? { abTest: ctx.abTest } : {}),
    ...(ctx.spec.waves && ctx.preparation?.waves?.length ? { waves: waveStatuses(ctx.preparation.waves, ctx.waves, ctx.spec.waves, ctx.kpis.sent) } : {}),
    ...(ctx.localTime ? { localTime: localTimeStatus(ctx.localTime, Date.now()) } : {}),
  };
}

/**
 * When sending starts (ISO): the spec's scheduleAt; with the recipient's local time (a local time without offset), the
 * first group's time as the preparation found it.
 */
export function contactDateOf(ctx: DeliveryContext): string | undefined {
  return ctx.spec.timeZone === 'recipient' ? ctx.preparation?.localTime?.[0]?.at : ctx.spec.scheduleAt;
}

/** What the situation says while the messages left wait for the sending plan (an A/B test's decision, the next wave). */
export function hold(ctx: DeliveryContext, h: { until?: string; because: string } | undefined): void {
  ctx.retryAt = h?.until;
  ctx.heldBecause = h?.because;
  showDetails(ctx);
}

/** "Delivery sent: 98 sent (98.0%), …": the last log line of a sending. */
export function sentSummary(k: Kpis): string {
  return `Delivery sent: ${k.sent} sent (${percent(k.sent, k.toDeliver)})` +
    (k.possibleDuplicates ? `, ${k.possibleDuplicates} possibly received twice (in flight at a crash, or a connection lost after sending)` : '');
}
