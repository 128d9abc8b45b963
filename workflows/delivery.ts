// emailDelivery: the state machine of one delivery.
//   preparing → prepared (manual approval) → scheduled (contact date) → sending ⇄ paused → sent
//   any state → stopped (workflow cancellation) | failed (critical preparation error)
// Per-recipient work and progress live in the activities and the database; the workflow keeps
// only counts and a bounded delivery log, so its history stays small whatever the audience size.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  emptyKpis, kpisAfterPreparation, kpisWithSending, percent,
  type DeliveryState, type Kpis, type LogEntry, type LogLevel, type PreparationResult,
} from '../domain/delivery';
import type { DeliverySpecInput } from '../domain/spec';
import {
  confirmSignal, kpisQuery, logsQuery, pauseSignal, progressSignal, resumeSignal, statusQuery,
  DELIVERY_NAME, DELIVERY_STATE, type DeliveryStatus,
} from './messages';

type Activities = ReturnType<typeof createActivities>;

const { prepareDelivery } = wf.proxyActivities<Activities>({
  summary: 'Preparation: compute the target, apply typology rules, render every message',
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '10 seconds', // a dead worker is noticed within this, then the attempt resumes from the database
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
const { sendDelivery } = wf.proxyActivities<Activities>({
  summary: 'Sending: send the prepared messages through SMTP',
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '10 seconds',
  // Pause and stop wait until the activity has recorded every message it handed to SMTP.
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
const { stopDelivery } = wf.proxyActivities<Activities>({
  summary: 'Stop: cancel every message not sent',
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const MAX_LOGS = 1000;
/** Continue-as-new past this many events (progress signals are the only thing that grows). */
const MAX_HISTORY_EVENTS = 5000;

/** Second workflow argument: not part of the public contract (continue-as-new, tests). */
export interface DeliveryRunOptions {
  /** What a continued run takes over from the previous one. */
  carried?: CarriedState;
  maxHistoryEvents?: number;
}

export interface CarriedState {
  runKey: string;
  preparation: PreparationResult;
  kpis: Kpis;
  logs: LogEntry[];
  logOffset: number;
  paused: boolean;
}

export interface DeliveryOutcome {
  state: DeliveryState;
  kpis: Kpis;
}

export async function emailDelivery(spec: DeliverySpecInput, options: DeliveryRunOptions = {}): Promise<DeliveryOutcome> {
  const { carried, maxHistoryEvents = MAX_HISTORY_EVENTS } = options;
  const historyIsLong = () => wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > maxHistoryEvents;
  const deliveryId = wf.workflowInfo().workflowId;
  const runKey = carried?.runKey ?? wf.workflowInfo().runId;
  let state: DeliveryState = carried ? 'sending' : 'preparing';
  let error: string | undefined;
  let kpis: Kpis = carried?.kpis ?? emptyKpis();
  let preparation = carried?.preparation;
  let preparedSoFar = 0;
  const logs: LogEntry[] = carried?.logs ?? [];
  let logOffset = carried?.logOffset ?? 0;
  let confirmed = false;
  let paused = carried?.paused ?? false;

  const log = (level: LogLevel, message: string) => {
    logs.push({ time: new Date().toISOString(), level, message }); // workflow time: deterministic on replay
    if (logs.length > MAX_LOGS) {
      logs.shift();
      logOffset++;
    }
  };
  const showDetails = () => wf.setCurrentDetails(details(state, kpis));
  let announced = false;
  const setState = (next: DeliveryState) => {
    if (next !== state || !announced) {
      wf.upsertSearchAttributes([
        { key: DELIVERY_STATE, value: next },
        ...(announced ? [] : [{ key: DELIVERY_NAME, value: String(spec?.name ?? deliveryId).slice(0, 200) }]),
      ]);
      state = next;
      announced = true;
    }
    showDetails();
  };

  wf.setHandler(statusQuery, (): DeliveryStatus => ({
    state, ...(error ? { error } : {}),
    ...(state === 'preparing' ? { preparedSoFar } : {}),
    ...(paused && state === 'sending' ? { pausing: true } : {}),
  }));
  wf.setHandler(kpisQuery, () => kpis);
  wf.setHandler(logsQuery, (page) => {
    const total = logOffset + logs.length;
    // The argument may come from the temporal CLI as any JSON: fall back to defaults on odd values.
    const limit = Math.min(wholeOr(page?.limit, 100), MAX_LOGS);
    const offset = Math.max(logOffset, wholeOr(page?.offset, total - limit));
    return { offset, total, entries: logs.slice(offset - logOffset, offset - logOffset + limit) };
  });
  wf.setHandler(confirmSignal, () => {
    if (state === 'prepared' && !confirmed) {
      confirmed = true;
      log('info', 'Sending confirmed');
    } else log('warning', `confirm ignored: the delivery is ${state}; confirm applies to a prepared delivery waiting for approval`);
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
      log('info', 'Resume requested');
    } else log('warning', `resume ignored: the delivery is ${state}, not paused`);
  });
  wf.setHandler(progressSignal, (report) => {
    if (report.phase === 'preparation') preparedSoFar = report.processed;
    else if (state === 'sending' || state === 'paused') kpis = kpisWithSending(kpis, report);
    showDetails();
  });

  let sending: Promise<unknown> | undefined;
  try {
    if (!preparation) {
      setState('preparing');
      log('info', `Preparation started for delivery "${String(spec?.name ?? '')}"`);
      const prepared = await prepareDelivery({ deliveryId, runKey, spec });
      preparation = prepared;
      kpis = kpisAfterPreparation(prepared);
      logPreparation(log, prepared);
      if (prepared.toDeliver === 0) {
        log('warning', 'Nothing to deliver: every targeted recipient was excluded');
        setState('sent');
        return { state, kpis };
      }
      setState('prepared');
      if (spec.approval === 'manual') {
        log('info', 'Waiting for approval: send the confirm signal to start sending');
        await wf.condition(() => confirmed);
      }
      const contactDate = spec.scheduleAt ? Date.parse(spec.scheduleAt) : NaN;
      if (contactDate > Date.now()) {
        setState('scheduled');
        log('info', `Scheduled: sending starts at ${new Date(contactDate).toISOString()}`);
        await wf.sleep(contactDate - Date.now(), { summary: `Contact date: ${new Date(contactDate).toISOString()}` });
      }
    }

    // Sending: pause cancels the activity (which stops within seconds, recording every message it
    // handed to SMTP); resume starts a new one that continues from the database.
    for (;;) {
      if (paused) {
        setState('paused');
        log('info', `Paused after ${kpis.sent} sent, ${kpis.pending} pending`);
        await wf.condition(() => !paused);
      }
      setState('sending');
      log('info', kpis.sent + kpis.failed > 0 ? 'Sending resumed' : `Sending ${kpis.toDeliver} messages`);
      const scope = new wf.CancellationScope();
      sending = scope.run(() => sendDelivery({ deliveryId }));
      const interrupted = await Promise.race([
        sending.then(() => false),
        wf.condition(() => paused || historyIsLong()).then(() => true),
      ]);
      if (interrupted) {
        scope.cancel();
        await sending.catch((e) => {
          if (!wf.isCancellation(e)) throw e;
        });
      }
      const result = await sending.then((r) => r as Awaited<ReturnType<typeof sendDelivery>>, () => undefined);
      sending = undefined;
      if (result) {
        kpis = kpisWithSending(kpis, result);
        break;
      }
      if (!paused && historyIsLong()) {
        log('info', `Continuing as new after ${wf.workflowInfo().historyLength} history events`);
        return await wf.continueAsNew<typeof emailDelivery>(spec, {
          maxHistoryEvents, carried: { runKey, preparation: preparation!, kpis, logs, logOffset, paused },
        });
      }
    }
    setState('sent');
    log(kpis.failed > 0 ? 'warning' : 'info',
      `Delivery sent: ${kpis.sent} sent (${percent(kpis.sent, kpis.toDeliver)}), ${kpis.failed} errors` +
      (kpis.resentAfterCrash ? `, ${kpis.resentAfterCrash} resent after a worker crash (possible duplicates)` : ''));
    return { state, kpis };
  } catch (e) {
    if (wf.isCancellation(e)) {
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
      setState('failed');
      log('error', `Preparation failed: ${failure.message}`);
      log('error', '1 error: the delivery cannot be sent; fix the spec and start a new delivery');
      throw wf.ApplicationFailure.nonRetryable(`Preparation failed: ${failure.message}`, 'PreparationFailed');
    }
    throw e;
  }
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
function details(state: DeliveryState, k: Kpis): string {
  return `**${state}** · targeted ${k.targeted} · to deliver ${k.toDeliver} · excluded ${k.toExclude} · ` +
    `sent ${k.sent} · delivered ${k.delivered} · errors ${k.failed} · pending ${k.pending}`;
}
