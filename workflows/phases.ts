// The phases of a delivery, in the order the workflow runs them. Each waits on the context and calls
// activities; per-recipient work and progress live in the activities and the database.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { complaintTrip, describeComplaintTrip } from '../domain/complaint-guard';
import { errorSummary, kpisAfterPreparation, kpisWithSending, type Halt, type PreparationResult, type SendingResult } from '../domain/delivery';
import { awaitsConfirm } from '../domain/lifecycle';
import { done } from '../domain/situation';
import { contactDateOf, continueAsNew, historyIsLong, log, moveTo, sentSummary, showContactDate, showCounts, showDetails, type DeliveryContext, type Reconciliation } from './context';

export type Activities = ReturnType<typeof createActivities>;
const COUNTS_AFTER_EACH_ROUND = 'counts-after-each-round';
type Outcome = 'done' | 'edited';

/** What a series of sending rounds sends: an A/B test's population or a wave (their first pass only), or everything left. */
export interface RoundScope {
  testOnly?: boolean;
  upToId?: number;
  firstPassOnly?: boolean;
  /** The log line of the first round. */
  opening?: string;
}

/** Prepares the current content; false when there is nothing to deliver. */
export async function prepare(ctx: DeliveryContext, acts: Activities, version: number): Promise<boolean> {
  moveTo(ctx, 'preparing');
  log(ctx, 'info', `Preparation started for delivery "${ctx.spec.name}"`);
  const prepared = await acts.prepareDelivery({ deliveryId: ctx.deliveryId, runKey: `${ctx.runKey}#${version}`, spec: ctx.spec });
  ctx.preparation = prepared;
  ctx.kpis = kpisAfterPreparation(prepared);
  logPreparation(ctx, prepared);
  if (prepared.toDeliver > 0) return true;
  log(ctx, 'warning', 'Nothing to deliver: every targeted recipient was excluded');
  return false;
}

/** Prepared: sends the proofs asked for, and waits for `confirm` when the approval rules want it. */
export async function approve(ctx: DeliveryContext, acts: Activities, version: number): Promise<Outcome> {
  moveTo(ctx, 'prepared');
  const edited = () => ctx.contentVersion !== version;
  ctx.awaitingConfirm = awaitsConfirm(ctx.spec, ctx.preparation!);
  ctx.confirmed = false;
  showDetails(ctx); // "Waiting for confirm (manual approval)"
  if (ctx.awaitingConfirm) {
    log(ctx, 'info', `Waiting for approval${ctx.spec.approval === 'semi' ? ' (the preparation logged warnings)' : ''}: send the confirm signal to start sending` +
      (ctx.spec.proof?.required ? ', after a proof' : ''));
  }
  for (;;) {
    await wf.condition(() => ctx.proofRequested || edited() || !ctx.awaitingConfirm || ctx.confirmed);
    if (edited() || !ctx.proofRequested) break;
    ctx.proofRequested = false;
    const number = ++ctx.proofsSent;
    const proof = await acts.sendProof({ deliveryId: ctx.deliveryId, number });
    ctx.proofOfVersion = version;
    showDetails(ctx); // the proof is no longer missing
    log(ctx, proof.failed ? 'warning' : 'info', `Proof #${number} sent to ${proof.sent} address(es)${proof.failed ? `, ${proof.failed} failed` : ''}`);
  }
  if (edited()) return 'edited';
  ctx.awaitingConfirm = false;
  return 'done';
}

/** Waits for the contact date, if it is ahead; an edit meanwhile prepares again. */
export async function waitForContactDate(ctx: DeliveryContext, version: number): Promise<Outcome> {
  const contactDate = Date.parse(contactDateOf(ctx) ?? '');
  if (!(contactDate > Date.now())) {
    showContactDate(new Date());
    return 'done';
  }
  const at = new Date(contactDate).toISOString();
  showContactDate(new Date(contactDate));
  moveTo(ctx, 'scheduled');
  log(ctx, 'info', `Scheduled: sending starts at ${at}`);
  const edited = await wf.condition(() => ctx.contentVersion !== version, contactDate - Date.now(), { summary: `Contact date: ${at}` });
  return edited ? 'edited' : 'done';
}

/**
 * The complaint breaker, on every progress report while sending: complaints arrive by the bounce listener and the
 * tracking server's ESP events, counted in the KPIs; past the spec's limit the delivery pauses itself.
 */
export function judgeComplaints(ctx: DeliveryContext): void {
  const guard = ctx.spec.complaintGuard;
  if (!guard || ctx.state !== 'sending' || ctx.pausedBecause) return;
  const base = ctx.complaintBaseline ?? { complaints: 0, delivered: 0 };
  const trip = complaintTrip((ctx.kpis.complaints ?? 0) - base.complaints, ctx.kpis.delivered - base.delivered, guard.maxComplaintRate);
  if (!trip) return;
  halt(ctx, { by: 'guard', reason: describeComplaintTrip(trip), complaints: true });
}

/** The engine pauses the delivery by itself (a relay fault only ops can fix, the failure-rate guard, complaints). */
function halt(ctx: DeliveryContext, h: Halt): void {
  if (ctx.pausedBecause) return; // the first cause is the one to fix
  ctx.paused = true;
  ctx.pausedBecause = h.reason;
  if (h.complaints) ctx.complaintsTripped = true;
  log(ctx, 'error', `Paused by the engine: ${h.reason}`);
}

/**
 * Sending rounds: pause cancels the round (its activities stop within seconds, recording every message
 * they handed to SMTP); resume starts a new one that continues from the database. Soft failures come back
 * at their retry time until the validity period ends. A long run continues as new between rounds.
 */
export async function sendRounds(ctx: DeliveryContext, acts: Activities, scope: RoundScope = {}): Promise<void> {
  let result: SendingResult | undefined;
  for (let round = 1; ; round++) {
    if (ctx.paused) {
      moveTo(ctx, 'paused');
      log(ctx, 'info', `Paused after ${ctx.kpis.sent} sent, ${ctx.kpis.pending} pending`);
      await wf.condition(() => !ctx.paused);
    }
    moveTo(ctx, 'sending');
    ctx.sendingSince = { at: Date.now(), done: done(ctx.kpis) };
    log(ctx, 'info', round === 1 && scope.opening ? scope.opening : ctx.kpis.sent + ctx.kpis.failed > 0 ? 'Sending resumed' : `Sending ${ctx.kpis.toDeliver} messages`);
    result = await sendRound(ctx, acts, `${wf.workflowInfo().runId}.${round}`, scope);
    if (result) ctx.kpis = kpisWithSending(ctx.kpis, result);
    // A round's result moves the counts in search attributes too: a local-time group or a wave short enough to send no
    // progress signal would leave DeliverySent hours behind. Patched: running deliveries replay without this upsert.
    if (result && wf.patched(COUNTS_AFTER_EACH_ROUND)) showCounts(ctx, true);
    judgeComplaints(ctx);
    if (ctx.paused) continue; // by ops or by the engine: the loop waits for resume at its top
    if (result) {
      // An A/B test's population, or a wave, is sent once its first pass is: soft failures retry with what comes next.
      // A hold (a closed window, a suspended provider) is not the end of the first pass: the round goes on after it.
      if (!result.nextRetryAt || (scope.firstPassOnly && !result.held)) break;
      ctx.retryAt = result.nextRetryAt;
      ctx.heldBecause = result.held;
      log(ctx, 'info', result.held
        ? `${ctx.kpis.pending} message(s) wait: ${result.held}; sending goes on at ${result.nextRetryAt}`
        : `${ctx.kpis.pending} message(s) waiting to retry after a soft failure; next retry at ${result.nextRetryAt}`);
      showDetails(ctx);
      const summary = result.held ? `Sending goes on at ${result.nextRetryAt}: ${result.held}`.slice(0, 200) : `Retry soft failures at ${result.nextRetryAt}`;
      await wf.condition(() => ctx.paused || historyIsLong(ctx), Math.max(0, Date.parse(result.nextRetryAt) - Date.now()), { summary });
      ctx.retryAt = undefined;
      ctx.heldBecause = undefined;
    }
    if (!ctx.paused && historyIsLong(ctx)) await continueAsNew(ctx);
  }
  if (!scope.firstPassOnly) log(ctx, ctx.kpis.failed > 0 ? 'warning' : 'info', `${sentSummary(ctx.kpis)}; ${errorSummary(result.errorsByReason)}`);
}

/**
 * One round: every parallel sender (each possibly on another worker) claims its own rows; all settle before
 * the round ends, so the next round re-queues what this one left claimed. Undefined when interrupted.
 */
async function sendRound(ctx: DeliveryContext, acts: Activities, round: string, only: RoundScope): Promise<SendingResult | undefined> {
  const lanes = ctx.spec.parallelSenders;
  const scope = new wf.CancellationScope();
  const running = scope.run(async () => {
    const settled = await Promise.allSettled(Array.from({ length: lanes }, (_, lane) =>
      acts.sendDelivery({
        deliveryId: ctx.deliveryId, lane, lanes, round,
        ...(ctx.complaintsAcceptedAt ? { complaintsSince: ctx.complaintsAcceptedAt } : {}), ...(only.testOnly ? { testOnly: true } : {}),
        ...(only.upToId !== undefined ? { upToId: only.upToId } : {}),
      }).then((r) => {
        if (r.halted) halt(ctx, r.halted);
        return r;
      })));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return latestResult(settled.map((r) => (r as PromiseFulfilledResult<SendingResult>).value));
  });
  ctx.sending = running;
  const interrupted = await Promise.race([
    running.then(() => false),
    wf.condition(() => ctx.paused || historyIsLong(ctx)).then(() => true),
  ]);
  if (interrupted) {
    scope.cancel();
    await running.catch((e) => {
      if (!wf.isCancellation(e)) throw e;
    });
  }
  const result = await running.then((r) => r, () => undefined);
  ctx.sending = undefined;
  return result;
}

/**
 * Sent: opens, clicks, unsubscriptions and bounces keep moving the KPIs until the tracking period ends;
 * steady traffic over a long period continues as new, as sending does.
 */
export async function collectFeedback(ctx: DeliveryContext): Promise<void> {
  ctx.trackingUntil ??= new Date(Date.now() + ctx.spec.trackingHours * 3600_000).toISOString();
  moveTo(ctx, 'sent');
  for (let left = Date.parse(ctx.trackingUntil) - Date.now(); left > 0; left = Date.parse(ctx.trackingUntil) - Date.now()) {
    if (!(await wf.condition(() => historyIsLong(ctx), left, { summary: `Tracking period until ${ctx.trackingUntil}` }))) break;
    await continueAsNew(ctx);
  }
}

/** Stop (workflow cancellation): the round in flight records what it sent, every unsent message is cancelled. */
export async function stop(ctx: DeliveryContext, acts: Activities): Promise<void> {
  await wf.CancellationScope.nonCancellable(async () => {
    await ctx.sending?.catch(() => undefined);
    const { cancelled, ...counts } = await acts.stopDelivery({ deliveryId: ctx.deliveryId });
    ctx.kpis = { ...kpisWithSending(ctx.kpis, counts), pending: 0, cancelled };
    moveTo(ctx, 'stopped');
    log(ctx, 'warning', `Delivery stopped: ${ctx.kpis.sent} sent, ${cancelled} messages cancelled and never sent`);
  });
}

/** Sending attempts of a closed run learn it at their next heartbeat: they have stopped writing after this long. */
const CLOSED_RUN_SETTLES_MS = 15_000;

/**
 * The run after one that Temporal terminated (or timed out) while it prepared or sent: what that run would have
 * done on a stop. Every unsent message is cancelled, the KPIs are read back from the database, the state is
 * `terminated`. It first lets the sending attempts of the closed run notice it and stop.
 */
export async function reconcile(ctx: DeliveryContext, acts: Activities, r: Reconciliation): Promise<void> {
  ctx.error = `run ${r.runId} ${r.closedAs} at ${r.at}${r.reason ? `: "${r.reason}"` : ''}`;
  ctx.reconciling = true;
  moveTo(ctx, 'terminated');
  const settled = Date.parse(r.at) + CLOSED_RUN_SETTLES_MS - Date.now();
  if (settled > 0) await wf.sleep(settled);
  const c = await acts.reconcileDelivery({ deliveryId: ctx.deliveryId });
  const prepared = { ...ctx.kpis, targeted: c.targeted, toExclude: c.toExclude, toDeliver: c.targeted - c.toExclude };
  ctx.kpis = { ...kpisWithSending(prepared, c), pending: 0, cancelled: c.cancelled };
  ctx.reconciling = false;
  showCounts(ctx, true); // search attributes and current details
  log(ctx, 'warning', `The workflow was ${r.closedAs} in Temporal (${ctx.error}), where nothing of the delivery runs: ` +
    `reconciled, ${ctx.kpis.sent} sent, ${c.cancelled} messages cancelled and never sent`);
}

/** A critical error in the preparation: nothing prepared may be sent; the delivery fails with the cause. */
export async function failPreparation(ctx: DeliveryContext, acts: Activities, failure: wf.ApplicationFailure): Promise<never> {
  ctx.error = failure.message;
  // An id taken by an earlier delivery has nothing of this one to stop.
  if (failure.type !== 'DeliveryIdTaken') await wf.CancellationScope.nonCancellable(() => acts.stopDelivery({ deliveryId: ctx.deliveryId }));
  moveTo(ctx, 'failed');
  log(ctx, 'error', `Preparation failed: ${failure.message}`);
  log(ctx, 'error', '1 error: the delivery cannot be sent; fix the spec and start a new delivery');
  throw wf.ApplicationFailure.nonRetryable(`Preparation failed: ${failure.message}`, 'PreparationFailed');
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

function logPreparation(ctx: DeliveryContext, p: PreparationResult): void {
  const causes = Object.entries(p.exclusions).map(([cause, n]) => `${cause}: ${n}`).join(', ');
  log(ctx, 'info', `Preparation done: ${p.targeted} targeted, ${p.toDeliver} to deliver, ${p.toExclude} to exclude${causes ? ` (${causes})` : ''}`);
  for (const w of p.warnings) log(ctx, 'warning', w);
}
