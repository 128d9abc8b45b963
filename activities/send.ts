// Sending: claim a batch of due messages, hand them to SMTP, record each outcome as it comes.
// Progress is checkpointed at send time (not at fetch time), so a retried attempt never skips a recipient.
// Every fault stops the hand-out of messages at once, before it can cause a resend: a database error (the
// attempt waits for the database, then fails if it does not come back), a relay fault (given back unsent;
// a permanent one pauses the delivery), too many hard failures (the guard pauses it), a lost lease (another
// attempt took over), pause, stop and shutdown. What can be sent twice is only what the attempt holds when
// it dies: at most 4 × batch rows, counted as possible duplicates by the attempt that takes over.
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { reasonKey, type Failure } from '../domain/failures';
import { describeRelayFault, type RelayFault } from '../domain/smtp-faults';
import { describeTrip, failureGuard, type GuardTrip } from '../domain/failure-guard';
import { addressKey, domainOf } from '../domain/address';
import { EXCLUSION_CAUSES, type ExclusionCause, type Halt, type SendingResult } from '../domain/delivery';
import { nextRetryAt } from '../domain/retries';
import { parseSender, type DeliverySpec } from '../domain/spec';
import { deliveryMessages, type TrackingSetup } from '../domain/message';
import { mimeSkeleton } from '../domain/mime';
import { verpAddress } from '../domain/bounce-references';
import { quarantine } from '../store/quarantine';
import { isErasedAddress } from '../store/erasure';
import { optOuts } from '../store/opt-outs';
import { lists } from '../store/lists';
import { IN_LIST_MAX } from '../store/json-lists';
import { databaseHealth, retryTransient } from '../store/transient';
import { sendingLogs, type ClaimedMessage, type MessageOutcome } from '../store/sending-logs';
import { domainThrottles } from '../store/domain-throttles';
import { loadPreparedDelivery } from '../store/deliveries';
import type { ActivityDeps } from './deps';
import type { OutgoingMessage } from './mailer';
import { outcomeRecorder } from './outcome-recorder';
import { attemptLease } from './lease';
import { pacer } from './pacer';
import { domainGate } from './domain-gate';
import { engineThrottle } from './engine-throttle';
import { startProgress } from './progress';

export interface SendInput {
  deliveryId: string;
  /** With parallel senders: this sender's number (0…lanes-1), how many there are, and their sending round. */
  lane?: number;
  lanes?: number;
  round?: string;
}

/** Outcomes are written every 100 ms, or at once when a batch of them waits. */
const RECORD_EVERY_MS = 100;
/** How often a sender looks for DSNs that failed its messages (the failure-rate guard counts them). */
const BOUNCES_EVERY_MS = 1000;

export function sendActivity(deps: ActivityDeps) {
  return async function sendDelivery({ deliveryId, lane = 0, lanes = 1, round }: SendInput): Promise<SendingResult> {
    const ctx = Context.current();
    const { db, mailer } = deps;
    // Every database call of this attempt goes through transient errors, and none hands a message out meanwhile.
    const database = databaseHealth(deps.databaseRetryMs);
    const logs = sendingLogs(db, database.retry);
    const addresses = quarantine(db, database.retry);
    const optOutList = optOuts(db, database.retry);
    const delivery = await loadPreparedDelivery(db, deliveryId, database.retry);
    const { spec } = delivery;
    const compose = composer(deliveryId, spec, deps.tracking, deps.bounceDomain);
    // A delivery that unsubscribes from a list does not reach who left that list since its preparation.
    const leftList = spec.unsubscribeFrom === 'everything' ? undefined
      : await lists(db, database.retry).idOf(spec.unsubscribeFrom.list);
    const sendingStartedAt = delivery.sendingStartedAt ?? new Date();
    if (!delivery.sendingStartedAt) await retryTransient(() => db.delivery.update({ where: { id: deliveryId }, data: { sendingStartedAt } }), database.retry);

    const me = { round: round ?? `${ctx.info.workflowExecution?.runId ?? 'run'}.${ctx.info.activityId}`, lane, attempt: ctx.info.attempt };
    // Engine-wide caps per recipient domain, shared with every other delivery and worker (`delivery domains`).
    const engine = engineThrottle(domainThrottles(db, database.retry));
    let totals: Awaited<ReturnType<typeof logs.sendingCounts>>;
    try {
      await engine.ready;
      await logs.requeueInFlight(deliveryId, me);
      totals = await logs.sendingCounts(deliveryId);
    } catch (e) {
      engine.close();
      throw e;
    }
    let cursor = 0;
    // Only the first sender signals progress: the counts are the delivery's, whoever sends.
    const progress = startProgress(ctx, () => ({ phase: 'sending', ...totals, cursor }), lane === 0 ? deps.signalProgress : async () => undefined, deps.progressEveryMs);
    // Rate caps are shared between the parallel senders.
    const rate = spec.messagesPerSecond ? spec.messagesPerSecond / lanes : undefined;
    const pace = pacer(rate);
    const gate = domainGate(spec.domainLimits, lanes, undefined, engine);
    const guard = failureGuard(spec.guard ?? false);
    const claim = `${me.round}/${me.lane}/${me.attempt}/${randomUUID()}`;
    // At most `batch` messages are in flight, as many claimed ahead and twice as many sent and not yet recorded:
    // enough to keep every connection busy, never more than about a second of a capped rate.
    const batch = Math.max(1, Math.min(mailer.maxConnections * 4, IN_LIST_MAX, Math.ceil(rate ?? Infinity)));
    const recorder = outcomeRecorder(persist, { everyMs: RECORD_EVERY_MS, chunk: batch });

    // Aborted: no more messages are handed out, and those still waiting for a connection are given back.
    const handOut = new AbortController();
    const stop = () => handOut.abort();
    ctx.cancellationSignal.addEventListener('abort', stop, { once: true }); // pause, stop, worker shutdown
    const lease = attemptLease(ctx, stop);
    let halted: Halt | undefined; // a relay fault only ops can fix, or the failure-rate guard
    let unavailable: string | undefined; // a temporary relay fault: this attempt fails and is retried with backoff
    const stopped = () => handOut.signal.aborted || recorder.failure !== undefined;

    const inFlight = new Set<Promise<void>>();
    let queue: ClaimedMessage[] = [];
    const unsent: number[] = [];
    let finished = false;
    let deferredUntil = 0;
    let countedAt = Date.now();
    let bouncesSeenUntil = new Date(0); // only this attempt's messages are read: no need to trust one clock against another
    let bouncesReadAt = Date.now();
    try {
      try {
        // One stream of messages: the next batch is claimed while the last one is still in flight.
        while (!stopped()) {
          if (!database.healthy || recorder.backlog >= 2 * batch) {
            await sleep(10); // the database is failing, or outcomes wait to be recorded: nothing goes out meanwhile
            continue;
          }
          if (queue.length === 0) {
            await yieldToEventLoop(); // synchronous SQLite calls must not starve heartbeats and workflow tasks
            queue = await claimSendable();
            if (queue.length === 0) {
              if (inFlight.size > 0) {
                await Promise.race(inFlight);
                continue;
              }
              // Rows held back by a domain cap come back soon: wait for them rather than end the sending.
              const wait = deferredUntil - Date.now();
              if (wait > 0) {
                await sleep(Math.min(wait, 250));
                continue;
              }
              // Nothing due: done, unless a claim whose reply was lost left rows claimed under this attempt.
              await recorder.drain().catch(() => undefined);
              if (stopped() || (await logs.releaseOrphans(deliveryId, claim)) === 0) break;
              continue;
            }
            cursor = queue[queue.length - 1].id;
            if (spec.guard && Date.now() - bouncesReadAt > BOUNCES_EVERY_MS) {
              await judgeBounces();
              bouncesReadAt = Date.now();
            }
            if (lanes > 1 && lane === 0 && Date.now() - countedAt > 2000) {
              // The signalling sender counts the other senders' messages too (from the database, every 2 s).
              Object.assign(totals, await logs.sendingCounts(deliveryId));
              countedAt = Date.now();
            }
          }
          while (inFlight.size >= batch && !stopped()) await Promise.race(inFlight);
          if (stopped()) break;
          const next = nextAllowed(queue);
          if (next === undefined) {
            // Only capped domains are left: hand their rows back until their turn, and let the next
            // batch (other domains) go ahead instead of waiting behind them.
            const held = deferUntilTurn(queue.splice(0));
            await logs.defer(claim, held);
            for (const d of held) deferredUntil = Math.max(deferredUntil, d.until.getTime());
            continue;
          }
          await pace();
          if (stopped() || !lease.held() || !database.healthy) {
            gate.release(domainOf(next.email));
            queue.unshift(next);
            continue;
          }
          const sending: Promise<void> = send(next, compose(next)).finally(() => inFlight.delete(sending));
          inFlight.add(sending);
        }
      } finally {
        await Promise.all(inFlight);
      }
      if (recorder.failure === undefined) {
        await logs.release(claim, [...unsent, ...queue.map((r) => r.id)]);
        await recorder.drain().catch(() => undefined);
      }
      if (recorder.failure !== undefined) {
        // Rows still claimed are re-queued, as possible duplicates, by the attempt Temporal starts next.
        throw ApplicationFailure.retryable(`the database could not record what was sent (${String((recorder.failure as Error)?.message ?? recorder.failure).slice(0, 300)}); ` +
          'nothing more was handed out: the next attempt continues', 'DatabaseUnavailable');
      }
      if (lease.lostBecause) throw ApplicationFailure.retryable(`sending attempt given up: ${lease.lostBecause}; its rows belong to the attempt that took over`, 'LeaseLost');
      if (!halted) {
        // Retried by Temporal with backoff; the released rows are sent by the next attempt.
        if (unavailable) throw ApplicationFailure.retryable(`SMTP relay unavailable: ${unavailable}`, 'SmtpUnavailable');
        if (ctx.cancellationSignal.aborted) {
          // Not a pause or a stop: the attempt fails, and Temporal retries it on a live worker, instead of being cancelled.
          if ((ctx.cancellationSignal.reason as Error | undefined)?.message === 'WORKER_SHUTDOWN') throw ApplicationFailure.retryable('the worker is shutting down: messages in flight were recorded, the others given back', 'WorkerShutdown');
          await ctx.cancelled; // throws CancelledFailure: the workflow paused or stopped
        }
      }
      finished = true;
    } finally {
      recorder.stop();
      lease.close();
      engine.close();
      ctx.cancellationSignal.removeEventListener('abort', stop);
      // Interrupted (pause, stop, relay outage): tell the workflow the exact totals before it moves on. An
      // attempt that lost its lease reports nothing: its totals are no longer the delivery's.
      await progress.stop({ signal: !finished && !lease.lostBecause });
    }
    const errorsByReason: Record<string, number> = {};
    for (const { reason, count } of await logs.failureReasons(deliveryId)) {
      errorsByReason[reasonKey(reason)] = (errorsByReason[reasonKey(reason)] ?? 0) + count;
    }
    const retryAt = await logs.nextRetryAt(deliveryId);
    return {
      ...(await logs.sendingCounts(deliveryId)), errorsByReason,
      ...(retryAt ? { nextRetryAt: retryAt.toISOString() } : {}), ...(halted ? { halted } : {}),
    };

    /** The next batch of due rows, without those barred since the preparation (empty: nothing due now). */
    async function claimSendable(): Promise<ClaimedMessage[]> {
      for (;;) {
        const claimed = await logs.claim(deliveryId, claim, batch);
        if (claimed.length === 0) return claimed;
        const sendable = await withoutBarred(claimed);
        if (sendable.length > 0 || stopped()) return sendable;
      }
    }

    /**
     * Opt-out and quarantine are checked again when a message is about to go: a recipient who unsubscribed,
     * was quarantined or erased since the preparation (days before, for a scheduled delivery or a soft retry) is
     * not sent, and counts in the KPI excludedAtSend.
     */
    async function withoutBarred(rows: ClaimedMessage[]): Promise<ClaimedMessage[]> {
      if (rows.length === 0) return rows;
      const keys = rows.map((r) => addressKey(r.email));
      const [optedOut, quarantined, unsubscribed] = await Promise.all([optOutList.among(keys), addresses.quarantinedAmong(keys),
        leftList === undefined ? new Set<string>() : lists(db, database.retry).unsubscribedAmong(leftList, keys)]);
      for (const k of unsubscribed) optedOut.add(k);
      // An erased person's row holds a hash, never an address to send to.
      const barred = rows.flatMap((r, i): Array<{ id: number; cause: ExclusionCause }> => (isErasedAddress(r.email) ? [{ id: r.id, cause: EXCLUSION_CAUSES.erasedSincePreparation }]
        : optedOut.has(keys[i]) ? [{ id: r.id, cause: EXCLUSION_CAUSES.optedOutSincePreparation }]
          : quarantined.has(keys[i]) ? [{ id: r.id, cause: EXCLUSION_CAUSES.quarantinedSincePreparation }] : []));
      if (barred.length === 0) return rows;
      const taken = new Set(await logs.excludeAtSend(claim, barred));
      totals.excludedAtSend += taken.size;
      // A row not taken was re-queued by another attempt meanwhile: not ours to send either.
      const skipped = new Set(barred.map((b) => b.id));
      return rows.filter((r) => !skipped.has(r.id));
    }

    /** Hands one message to SMTP; its outcome joins the next recording. */
    async function send(row: ClaimedMessage, message: OutgoingMessage): Promise<void> {
      const r = await mailer.send(message, handOut.signal).finally(() => gate.release(domainOf(row.email)));
      if (r.status === 'sent') {
        recorder.add({ id: row.id, email: row.email, status: 'sent', acceptedAt: new Date() });
        judge(undefined);
      } else if (r.status === 'failed') {
        recorder.add(failureOutcome(row, r.failure));
        judge(r.failure.type === 'hard' ? reasonKey(r.failure.reason) : undefined);
      } else if (r.status === 'refused for the sender') {
        // Not the address's fault: no quarantine; retried when temporary; the guard counts it.
        recorder.add(senderRefusal(row, r.failure.reason, r.temporary));
        judge(reasonKey(r.failure.reason));
      } else if (r.status === 'unknown') {
        // The relay may have taken it: retried like a soft failure, counted as a possible duplicate, and not
        // held against the address.
        recorder.add({ ...failureOutcome(row, r.failure), possibleDuplicate: true });
        judge(undefined);
      } else {
        unsent.push(row.id);
        if (r.fault) relayFault(r.fault);
      }
    }

    function failureOutcome(row: ClaimedMessage, failure: Failure): Exclude<MessageOutcome, { status: 'sent' }> {
      const retryAt = failure.type === 'soft' ? nextRetryAt(new Date(), row.softFailures + 1, sendingStartedAt, spec.retries) : undefined;
      return retryAt
        ? { id: row.id, email: row.email, status: 'retry', retryAt, reason: failure.reason }
        : { id: row.id, email: row.email, status: 'failed', failureType: failure.type, reason: failure.reason };
    }

    function senderRefusal(row: ClaimedMessage, reason: string, temporary: boolean): Exclude<MessageOutcome, { status: 'sent' }> {
      const retryAt = temporary ? nextRetryAt(new Date(), row.softFailures + 1, sendingStartedAt, spec.retries) : undefined;
      return retryAt
        ? { id: row.id, email: row.email, status: 'retry', retryAt, reason, failureType: 'ignored', senderRefused: true }
        : { id: row.id, email: row.email, status: 'failed', failureType: 'ignored', reason, senderRefused: true };
    }

    /** One more outcome for the failure-rate guard: crossing it halts the delivery. */
    function judge(failureReason: string | undefined): void {
      halt(guard.add(failureReason));
    }

    function halt(trip: GuardTrip | undefined): void {
      if (trip && !halted) {
        halted = { by: 'guard', reason: describeTrip(trip) };
        stop();
      }
    }

    /** DSNs of this attempt's messages that failed them since the last look: the guard counts them too. */
    async function judgeBounces(): Promise<void> {
      for (const { reason, bouncedAt } of await logs.bouncedSince(deliveryId, claim, bouncesSeenUntil)) {
        bouncesSeenUntil = bouncedAt;
        halt(guard.amend(reasonKey(reason)));
      }
    }

    function relayFault(fault: RelayFault): void {
      if (fault.permanent) halted ??= { by: 'relay', reason: describeRelayFault(fault) };
      else unavailable ??= fault.cause;
      stop();
    }

    /** Takes out of the queue the first message whose domain is under its caps (counted as in flight). */
    function nextAllowed(queue: ClaimedMessage[]): ClaimedMessage | undefined {
      for (let i = 0; i < queue.length; i++) {
        if (gate.tryAcquire(domainOf(queue[i].email))) return queue.splice(i, 1)[0];
      }
      return undefined;
    }

    /** Each held-back row gets the time of its turn: the domain's next slot, then one interval apart. */
    function deferUntilTurn(rows: ClaimedMessage[]): Array<{ id: number; until: Date }> {
      const now = Date.now();
      const position = new Map<string, number>();
      return rows.map((row) => {
        const domain = domainOf(row.email);
        const k = position.get(domain) ?? 0;
        position.set(domain, k + 1);
        const wait = gate.waitMs(domain);
        const first = Number.isFinite(wait) ? wait : 250; // waiting for a connection slot: look again shortly
        return { id: row.id, until: new Date(now + first + k * gate.intervalMs(domain)) };
      });
    }

    /** Records a chunk of outcomes (fenced by the claim), then what they mean for the quarantine. */
    async function persist(outcomes: MessageOutcome[]): Promise<void> {
      const { applied, lost } = await logs.record(claim, outcomes);
      if (lost.length) lease.lose(`${lost.length} of its messages were re-queued by another attempt`);
      const mine = outcomes.filter((o) => applied.has(o.id));
      const successes = mine.filter((o) => o.status === 'sent');
      // The earliest acceptance of the chunk: an error recorded after it (its own bounce) keeps the quarantine.
      const acceptedAt = new Date(Math.min(...successes.map((o) => o.acceptedAt?.getTime() ?? Date.now())));
      await addresses.recordSuccesses(successes.map((o) => o.email), acceptedAt);
      // A possible duplicate (connection lost after the content went out) and a refusal for the sender are not the address's fault.
      await addresses.recordFailures(mine.flatMap((o) => (o.status === 'sent' || o.possibleDuplicate || o.senderRefused ? []
        : [{ address: o.email, deliveryId, failure: { type: o.status === 'retry' ? 'soft' as const : o.failureType, reason: o.reason } }])), deps.softErrorsBeforeQuarantine);
      const count = { sent: 0, failed: 0, retry: 0 };
      for (const o of mine) count[o.status]++;
      totals.sent += count.sent;
      totals.delivered += count.sent;
      totals.failed += count.failed;
      totals.possibleDuplicates += mine.filter((o) => o.status !== 'sent' && o.possibleDuplicate).length;
      totals.senderRefusals = (totals.senderRefusals ?? 0) + mine.filter((o) => o.status !== 'sent' && o.senderRefused).length;
      deps.metrics?.sent.add(count.sent);
      deps.metrics?.failed.add(count.failed);
      deps.metrics?.retried.add(count.retry);
    }
  };
}

/** Builds one recipient's message from what the preparation captured. */
function composer(deliveryId: string, spec: DeliverySpec, tracking: TrackingSetup, bounceDomain?: string) {
  const messages = deliveryMessages(deliveryId, spec, tracking);
  const mime = mimeSkeleton(spec.from, deliveryId);
  const sender = parseSender(spec.from).address;
  return (row: ClaimedMessage): OutgoingMessage => ({
    envelopeFrom: bounceDomain ? verpAddress(tracking.secret, row.id, bounceDomain) : sender,
    to: row.email,
    raw: mime({ to: row.email, ...messages.compose(row.id, JSON.parse(row.personalization) as Record<string, unknown>) }),
  });
}
