// emailDelivery: the state machine of one delivery.
//   preparing → prepared (approval, proofs; an edit prepares again) → scheduled (contact date)
//   → sending ⇄ paused → sent (tracking period) | stopped (workflow cancellation) | failed (critical error)
// Per-recipient work and progress live in the activities and the database; the workflow keeps
// only counts and a bounded delivery log, so its history stays small whatever the audience size.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  emptyKpis, errorSummary, kpisAfterPreparation, kpisWithSending, kpisWithTracking, percent,
  type DeliveryState, type Halt, type Kpis, type LogEntry, type LogLevel, type PreparationResult, type SendingResult,
} from '../domain/delivery';
import type { DeliverySpecInput } from '../domain/spec';
import {
  confirmSignal, editUpdate, exclusionsQuery, kpisQuery, logsQuery, pauseSignal, progressSignal, proofSignal,
  resumeSignal, statusQuery, DELIVERY_CONTACT_DATE, DELIVERY_ERRORS, DELIVERY_NAME, DELIVERY_OPENS, DELIVERY_SENT,
  DELIVERY_STATE, type DeliveryStatus,
} from './messages';

type Activities = ReturnType<typeof createActivities>;

/** A dead worker is noticed within the heartbeat timeout; the retried attempt resumes from the database. */
function activities(heartbeatTimeoutSeconds: number, retryMaxIntervalSeconds: number) {
  const retry = { initialInterval: 1000, maximumInterval: retryMaxIntervalSeconds * 1000 };
  const { prepareDelivery } = wf.proxyActivities<Activities>({
    summary: 'Preparation: compute the target, apply typology rules, render every message',
    startToCloseTimeout: '4 hours',
    heartbeatTimeout: heartbeatTimeoutSeconds * 1000,
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry,
  });
  const { sendDelivery } = wf.proxyActivities<Activities>({
    summary: 'Sending: send the due messages through SMTP (one activity per parallel sender)',
    startToCloseTimeout: '30 days',
    heartbeatTimeout: heartbeatTimeoutSeconds * 1000,
    // Pause and stop wait until the activity has recorded every message it handed to SMTP.
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry,
  });
  const { stopDelivery, sendProof, checkSpec } = wf.proxyActivities<Activities>({
    summary: 'Stop, proof or spec check',
    startToCloseTimeout: '10 minutes',
    retry,
  });
  return { prepareDelivery, sendDelivery, stopDelivery, sendProof, checkSpec };
}

const MAX_LOGS = 1000;
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
}

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
  proofsSent: number;
  /** Set once sent: the run only collects tracking feedback until then (ISO date). */
  trackingUntil?: string;
}

export interface DeliveryOutcome {
  state: DeliveryState;
  kpis: Kpis;
}

export async function emailDelivery(initialSpec: DeliverySpecInput, options: DeliveryRunOptions = {}): Promise<DeliveryOutcome> {
  const { carried, maxHistoryEvents = MAX_HISTORY_EVENTS, heartbeatTimeoutSeconds = 10, retryMaxIntervalSeconds = 30 } = options;
  const { prepareDelivery, sendDelivery, stopDelivery, sendProof, checkSpec } = activities(heartbeatTimeoutSeconds, retryMaxIntervalSeconds);
  const historyIsLong = () => wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > maxHistoryEvents;
  const deliveryId = wf.workflowInfo().workflowId;
  const runKey = carried?.runKey ?? wf.workflowInfo().runId;
  let spec = initialSpec;
  let state: DeliveryState = carried?.trackingUntil ? 'sent' : carried ? 'sending' : 'preparing';
  let error: string | undefined;
  let kpis: Kpis = carried?.kpis ?? emptyKpis();
  let preparation = carried?.preparation;
  let preparedSoFar = 0;
  const logs: LogEntry[] = carried?.logs ?? [];
  let logOffset = carried?.logOffset ?? 0;
  let paused = carried?.paused ?? false;
  let pausedBecause = carried?.pausedBecause;
  let contentVersion = carried?.contentVersion ?? 0;
  let proofsSent = carried?.proofsSent ?? 0;
  let proofOfVersion = -1; // content version the last proof showed
  let waitingForApproval = false;
  let confirmed = false;
  let proofRequested = false;

  const log = (level: LogLevel, message: string) => {
    logs.push({ time: new Date().toISOString(), level, message }); // workflow time: deterministic on replay
    if (logs.length > MAX_LOGS) {
      logs.shift();
      logOffset++;
    }
  };
  const showDetails = () => wf.setCurrentDetails(details(state, kpis, pausedBecause));
  // Search attributes let the Web UI and `temporal workflow list` filter deliveries by state, contact
  // date and counts. Counts are refreshed on state changes and at most every COUNTS_REFRESH_MS.
  let announced = false;
  let countsShown = '';
  let countsShownAt = 0;
  const showCounts = (now: boolean) => {
    const key = `${kpis.sent}/${kpis.failed}/${kpis.opens}`;
    if (key === countsShown || (!now && Date.now() - countsShownAt < COUNTS_REFRESH_MS)) return [];
    countsShown = key;
    countsShownAt = Date.now();
    return [
      { key: DELIVERY_SENT, value: kpis.sent }, { key: DELIVERY_ERRORS, value: kpis.failed }, { key: DELIVERY_OPENS, value: kpis.opens },
    ];
  };
  const setState = (next: DeliveryState) => {
    if (next !== state || !announced) {
      wf.upsertSearchAttributes([
        { key: DELIVERY_STATE, value: next },
        ...(announced ? [] : [{ key: DELIVERY_NAME, value: String(spec?.name ?? deliveryId).slice(0, 200) }]),
        ...showCounts(true),
      ]);
      state = next;
      announced = true;
    }
    showDetails();
  };
  const setContactDate = (date: Date) => wf.upsertSearchAttributes([{ key: DELIVERY_CONTACT_DATE, value: date }]);
  const proofMissing = () => spec.proof?.required === true && proofOfVersion !== contentVersion;

  wf.setHandler(statusQuery, (): DeliveryStatus => ({
    state, ...(error ? { error } : {}),
    ...(state === 'preparing' ? { preparedSoFar } : {}),
    ...(paused && state === 'sending' ? { pausing: true } : {}),
    ...(pausedBecause ? { pausedBecause } : {}),
  }));
  wf.setHandler(kpisQuery, () => kpis);
  wf.setHandler(exclusionsQuery, () => ({ toExclude: preparation?.toExclude ?? 0, byCause: preparation?.exclusions ?? {} }));
  wf.setHandler(logsQuery, (page) => {
    const total = logOffset + logs.length;
    // The argument may come from the temporal CLI as any JSON: fall back to defaults on odd values.
    const limit = Math.min(wholeOr(page?.limit, 100), MAX_LOGS);
    const offset = Math.max(logOffset, wholeOr(page?.offset, total - limit));
    return { offset, total, entries: logs.slice(offset - logOffset, offset - logOffset + limit) };
  });
  wf.setHandler(confirmSignal, () => {
    if (!(state === 'prepared' && waitingForApproval && !confirmed)) {
      log('warning', `confirm ignored: the delivery is ${state}; confirm applies to a prepared delivery waiting for approval`);
    } else if (proofMissing()) {
      log('warning', 'confirm ignored: a proof of the current content is required first; send one with the proof signal');
    } else {
      confirmed = true;
      log('info', 'Sending confirmed');
    }
  });
  wf.setHandler(proofSignal, () => {
    if (state !== 'prepared') log('warning', `proof ignored: the delivery is ${state}; proofs are sent while it is prepared`);
    else if (!spec.proof) log('warning', 'proof ignored: the spec has no proof list (proof.to)');
    else proofRequested = true;
  });
  wf.setHandler(pauseSignal, () => {
    if (state === 'sending' && !paused) {
      paused = true;
      log('info', 'Pause requested');
    } else log('warning', `pause ignored: the delivery is ${paused ? 'already paused' : state}; pause applies while sending`);
  });
  wf.setHandler(resumeSignal, () => {
    if (paused) {
      paused = false;
      log('info', pausedBecause ? 'Resume requested: sending again after the engine paused the delivery' : 'Resume requested');
      pausedBecause = undefined;
    } else log('warning', `resume ignored: the delivery is ${state}, not paused`);
  });
  wf.setHandler(progressSignal, (report) => {
    if (report.phase === 'preparation') preparedSoFar = report.processed;
    else if (report.phase === 'tracking') kpis = kpisWithTracking(kpis, report);
    else if (report.phase === 'feedback' || state === 'sending' || state === 'paused') kpis = kpisWithSending(kpis, report);
    const counts = showCounts(false);
    if (counts.length) wf.upsertSearchAttributes(counts);
    showDetails();
  });
  wf.setHandler(editUpdate, async (next) => {
    const problems = await checkSpec({ spec: next });
    if (problems.length) throw wf.ApplicationFailure.nonRetryable(`edit refused, the delivery is unchanged: ${problems.join('; ')}`, 'InvalidDeliverySpec');
    if (state !== 'prepared' && state !== 'scheduled') throw wf.ApplicationFailure.nonRetryable(`edit refused: the delivery is ${state}; content can change only while it is prepared or scheduled`, 'WrongState');
    spec = next;
    contentVersion++;
    log('info', `Content changed (version ${contentVersion}): the delivery is prepared again${spec.proof?.required ? ' and needs a new proof' : ''}`);
  }, {
    validator: (_next: DeliverySpecInput) => {
      if (state !== 'prepared' && state !== 'scheduled') throw new Error(`edit refused: the delivery is ${state}; content can change only while it is prepared or scheduled`);
    },
  });

  let sending: Promise<unknown> | undefined;
  let tracking = false;
  const continueAsNew = (trackingUntil?: string) => {
    log('info', `Continuing as new after ${wf.workflowInfo().historyLength} history events`);
    return wf.continueAsNew<typeof emailDelivery>(spec, {
      maxHistoryEvents, heartbeatTimeoutSeconds, retryMaxIntervalSeconds,
      carried: { runKey, contentVersion, preparation: preparation!, kpis, logs, logOffset, paused, pausedBecause, proofsSent, trackingUntil },
    });
  };

  /** Prepares, then waits for approval and the contact date; an edit meanwhile starts over. */
  async function prepare(): Promise<'send' | 'nothing to send'> {
    for (let version = contentVersion; ; version = contentVersion) {
      setState('preparing');
      log('info', `Preparation started for delivery "${String(spec?.name ?? '')}"`);
      const prepared = await prepareDelivery({ deliveryId, runKey: `${runKey}#${version}`, spec });
      preparation = prepared;
      kpis = kpisAfterPreparation(prepared);
      logPreparation(log, prepared);
      if (prepared.toDeliver === 0) {
        log('warning', 'Nothing to deliver: every targeted recipient was excluded');
        return 'nothing to send';
      }
      setState('prepared');
      const edited = () => contentVersion !== version;
      waitingForApproval = spec.approval === 'manual' || (spec.approval === 'semi' && prepared.warnings.length > 0) || spec.proof?.required === true;
      confirmed = false;
      if (waitingForApproval) {
        log('info', `Waiting for approval${spec.approval === 'semi' ? ' (the preparation logged warnings)' : ''}: send the confirm signal to start sending` +
          (spec.proof?.required ? ', after a proof' : ''));
      }
      for (;;) {
        await wf.condition(() => proofRequested || edited() || !waitingForApproval || confirmed);
        if (edited()) break;
        if (!proofRequested) break;
        proofRequested = false;
        const number = ++proofsSent;
        const proof = await sendProof({ deliveryId, number });
        proofOfVersion = version;
        log(proof.failed ? 'warning' : 'info', `Proof #${number} sent to ${proof.sent} address(es)${proof.failed ? `, ${proof.failed} failed` : ''}`);
      }
      if (edited()) continue;
      waitingForApproval = false;
      const contactDate = spec.scheduleAt ? Date.parse(spec.scheduleAt) : NaN;
      if (contactDate > Date.now()) {
        setContactDate(new Date(contactDate));
        setState('scheduled');
        log('info', `Scheduled: sending starts at ${new Date(contactDate).toISOString()}`);
        if (await wf.condition(edited, contactDate - Date.now(), { summary: `Contact date: ${new Date(contactDate).toISOString()}` })) continue;
      } else {
        setContactDate(new Date());
      }
      return 'send';
    }
  }

  /** The engine pauses the delivery by itself (a relay fault only ops can fix, the failure-rate guard). */
  const halt = (h: Halt) => {
    if (pausedBecause) return; // the first cause is the one to fix
    paused = true;
    pausedBecause = h.reason;
    log('error', `Paused by the engine: ${h.reason}`);
  };

  /**
   * Sending: pause cancels the activity (which stops within seconds, recording every message it
   * handed to SMTP); resume starts a new one that continues from the database. Soft failures
   * come back at their retry time until the validity period ends. A sender that halts (relay fault,
   * failure-rate guard) pauses the delivery, which stops the other senders.
   */
  async function send(): Promise<void> {
    let result: SendingResult | undefined;
    // Parallel senders share the rows (each claims its own); the activities spread over the workers.
    const lanes = Math.max(1, Math.min(32, Math.floor(Number(spec.parallelSenders ?? 1)) || 1));
    let round = 0;
    for (;;) {
      if (paused) {
        setState('paused');
        log('info', `Paused after ${kpis.sent} sent, ${kpis.pending} pending`);
        await wf.condition(() => !paused);
      }
      setState('sending');
      log('info', kpis.sent + kpis.failed > 0 ? 'Sending resumed' : `Sending ${kpis.toDeliver} messages`);
      const scope = new wf.CancellationScope();
      const sendingRound = `${wf.workflowInfo().runId}.${++round}`;
      const running = scope.run(async () => {
        // Every sender settles before the round ends: a new round re-queues what older rounds left claimed.
        const settled = await Promise.allSettled(Array.from({ length: lanes }, (_, lane) =>
          sendDelivery({ deliveryId, lane, lanes, round: sendingRound }).then((r) => {
            if (r.halted) halt(r.halted);
            return r;
          })));
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        return latestResult(settled.map((r) => (r as PromiseFulfilledResult<SendingResult>).value));
      });
      sending = running;
      const interrupted = await Promise.race([
        running.then(() => false),
        wf.condition(() => paused || historyIsLong()).then(() => true),
      ]);
      if (interrupted) {
        scope.cancel();
        await running.catch((e) => {
          if (!wf.isCancellation(e)) throw e;
        });
      }
      result = await running.then((r) => r, () => undefined);
      sending = undefined;
      if (result) kpis = kpisWithSending(kpis, result);
      if (paused) continue; // by ops or by the engine: the loop waits for resume at its top
      if (result) {
        if (!result.nextRetryAt) break;
        const retryAt = Date.parse(result.nextRetryAt);
        log('info', `${kpis.pending} message(s) waiting to retry after a soft failure; next retry at ${result.nextRetryAt}`);
        await wf.condition(() => paused || historyIsLong(), Math.max(0, retryAt - Date.now()), { summary: `Retry soft failures at ${result.nextRetryAt}` });
      }
      if (!paused && historyIsLong()) await continueAsNew();
    }
    log(kpis.failed > 0 ? 'warning' : 'info',
      `Delivery sent: ${kpis.sent} sent (${percent(kpis.sent, kpis.toDeliver)})` +
      (kpis.possibleDuplicates ? `, ${kpis.possibleDuplicates} possibly received twice (in flight at a crash, or a connection lost after sending)` : '') +
      `; ${errorSummary(result.errorsByReason)}`);
  }

  try {
    if (!carried?.trackingUntil) {
      if (!preparation && (await prepare()) === 'nothing to send') {
        setState('sent');
        return { state, kpis };
      }
      await send();
    }
    // Opens, clicks, unsubscriptions and bounces keep arriving as signals and move the KPIs until the
    // tracking period ends; steady traffic over a long period continues as new, as sending does.
    const trackingUntil = carried?.trackingUntil ?? new Date(Date.now() + (spec.trackingHours ?? 0) * 3600_000).toISOString();
    setState('sent');
    tracking = true;
    for (let left = Date.parse(trackingUntil) - Date.now(); left > 0; left = Date.parse(trackingUntil) - Date.now()) {
      if (!(await wf.condition(historyIsLong, left, { summary: `Tracking period until ${trackingUntil}` }))) break;
      await continueAsNew(trackingUntil);
    }
    return { state, kpis };
  } catch (e) {
    if (wf.isCancellation(e)) {
      if (tracking) return { state, kpis }; // stopping a sent delivery only ends its tracking period
      await wf.CancellationScope.nonCancellable(async () => {
        await sending?.catch(() => undefined); // let the activity record what it already sent
        const { cancelled, ...counts } = await stopDelivery({ deliveryId });
        kpis = { ...kpisWithSending(kpis, counts), pending: 0 };
        setState('stopped');
        log('warning', `Delivery stopped: ${kpis.sent} sent, ${cancelled} messages cancelled and never sent`);
      });
      throw e;
    }
    const failure = e instanceof wf.ActivityFailure && e.cause instanceof wf.ApplicationFailure ? e.cause : undefined;
    if (failure && state === 'preparing') {
      error = failure.message;
      // Nothing prepared may be sent; an id taken by an earlier delivery has nothing of this one to stop.
      if (failure.type !== 'DeliveryIdTaken') await wf.CancellationScope.nonCancellable(() => stopDelivery({ deliveryId }));
      setState('failed');
      log('error', `Preparation failed: ${failure.message}`);
      log('error', '1 error: the delivery cannot be sent; fix the spec and start a new delivery');
      throw wf.ApplicationFailure.nonRetryable(`Preparation failed: ${failure.message}`, 'PreparationFailed');
    }
    throw e;
  }
}

/**
 * One result for the parallel senders of a round. Each reports the delivery's totals when it finished:
 * the last to finish saw the most; a retry time any of them found must still be honoured.
 */
function latestResult(results: SendingResult[]): SendingResult {
  const settled = (r: SendingResult) => r.sent + r.failed;
  const latest = results.reduce((a, b) => (settled(b) > settled(a) ? b : a));
  const retries = results.flatMap((r) => (r.nextRetryAt ? [r.nextRetryAt] : [])).sort();
  return { ...latest, nextRetryAt: retries[0] };
}

function wholeOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : Math.max(0, fallback);
}

function logPreparation(log: (level: LogLevel, message: string) => void, p: PreparationResult): void {
  const causes = Object.entries(p.exclusions).map(([cause, n]) => `${cause}: ${n}`).join(', ');
  log('info', `Preparation done: ${p.targeted} targeted, ${p.toDeliver} to deliver, ${p.toExclude} to exclude${causes ? ` (${causes})` : ''}`);
  for (const w of p.warnings) log('warning', w);
}

/** The short summary shown as the workflow's current details in the Web UI. */
function details(state: DeliveryState, k: Kpis, pausedBecause?: string): string {
  return `**${state}**${pausedBecause ? ` — paused by the engine: ${pausedBecause}` : ''} · targeted ${k.targeted} · to deliver ${k.toDeliver} · excluded ${k.toExclude} · ` +
    `sent ${k.sent} · delivered ${k.delivered} · errors ${k.failed} · pending ${k.pending} · ` +
    `opens ${k.opens} (${k.openRate.toFixed(1)}%) · clicks ${k.clicks} (${k.clickRate.toFixed(1)}%) · unsubscriptions ${k.unsubscriptions}`;
}
