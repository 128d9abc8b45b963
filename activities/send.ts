// Sending: claim a window of due messages, hand them to SMTP, record each outcome as it comes.
// Progress is checkpointed at send time (not at fetch time), so a retried attempt never skips a
// recipient; only the rows claimed and not yet recorded when a worker died can be sent twice.
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { SendingResult } from '../domain/delivery';
import { reasonKey } from '../domain/failures';
import { domainOf } from '../domain/address';
import { nextRetryAt } from '../domain/retries';
import { parseSender, type DeliverySpec } from '../domain/spec';
import { deliveryMessages, type TrackingSetup } from '../domain/message';
import { mimeSkeleton } from '../domain/mime';
import { quarantine } from '../store/quarantine';
import { IN_LIST_MAX, whileBusy } from '../store/busy';
import { sendingLogs, type ClaimedMessage, type MessageOutcome } from '../store/sending-logs';
import type { ActivityDeps } from './deps';
import type { OutgoingMessage } from './mailer';
import { pacer } from './pacer';
import { domainGate } from './domain-gate';
import { startProgress } from './progress';

export interface SendInput {
  deliveryId: string;
  /** With parallel senders: this sender's number (0…lanes-1), how many there are, and their sending round. */
  lane?: number;
  lanes?: number;
  round?: string;
}

export function sendActivity(deps: ActivityDeps) {
  return async function sendDelivery({ deliveryId, lane = 0, lanes = 1, round }: SendInput): Promise<SendingResult> {
    const ctx = Context.current();
    const { db, mailer } = deps;
    const logs = sendingLogs(db);
    const addresses = quarantine(db);
    const delivery = await db.delivery.findUniqueOrThrow({ where: { id: deliveryId } });
    const spec = JSON.parse(delivery.spec) as DeliverySpec;
    const compose = composer(deliveryId, spec, deps.tracking, deps.bounceDomain);
    const sendingStartedAt = delivery.sendingStartedAt ?? new Date();
    if (!delivery.sendingStartedAt) await whileBusy(() => db.delivery.update({ where: { id: deliveryId }, data: { sendingStartedAt } }));

    const me = { round: round ?? `${ctx.info.workflowExecution?.runId ?? 'run'}.${ctx.info.activityId}`, lane, attempt: ctx.info.attempt };
    await logs.requeueInFlight(deliveryId, me);
    const totals = await logs.sendingCounts(deliveryId);
    let cursor = 0;
    // Only the first sender signals progress: the counts are the delivery's, whoever sends.
    const progress = startProgress(ctx, () => ({ phase: 'sending', ...totals, cursor }), lane === 0 ? deps.signalProgress : async () => undefined, deps.progressEveryMs);
    // Rate caps are shared between the parallel senders.
    const rate = spec.messagesPerSecond ? spec.messagesPerSecond / lanes : undefined;
    const pace = pacer(rate);
    const gate = domainGate(spec.domainLimits, lanes);
    const claim = `${me.round}/${me.lane}/${me.attempt}/${randomUUID()}`;
    // At most `window` messages are in flight, and as many claimed ahead: enough to keep every
    // connection busy, never more than about a second of a capped rate (claimed rows are what a
    // crash could send twice).
    const window = Math.max(1, Math.min(mailer.maxConnections * 4, IN_LIST_MAX, Math.ceil(rate ?? Infinity)));
    const inFlight = new Set<Promise<void>>();
    let queue: ClaimedMessage[] = [];
    const unsent: number[] = [];
    let unavailable: string | undefined;
    const stopped = () => unavailable !== undefined || ctx.cancellationSignal.aborted;
    // Outcomes are recorded as they come (every 100 ms), one write at a time.
    const completed: MessageOutcome[] = [];
    let recording: Promise<void> = Promise.resolve();
    const flush = () => {
      const chunk = completed.splice(0);
      if (chunk.length) recording = recording.then(() => persist(chunk));
      return recording;
    };
    const flushTimer = setInterval(() => flush().catch(() => undefined), 100); // a failure surfaces at the last flush
    let finished = false;
    let deferredUntil = 0;
    let countedAt = Date.now();
    try {
      try {
        // One stream of messages: the next window is claimed while the last one is still in flight.
        while (!stopped()) {
          if (queue.length === 0) {
            await yieldToEventLoop(); // synchronous SQLite calls must not starve heartbeats and workflow tasks
            queue = await logs.claim(deliveryId, claim, window);
            if (queue.length === 0) {
              if (inFlight.size > 0) {
                await Promise.race(inFlight);
                continue;
              }
              // Rows held back by a domain cap come back soon: wait for them rather than end the sending.
              const wait = deferredUntil - Date.now();
              if (wait <= 0) break;
              await sleep(Math.min(wait, 250));
              continue;
            }
            cursor = queue[queue.length - 1].id;
            if (lanes > 1 && lane === 0 && Date.now() - countedAt > 2000) {
              // The signalling sender counts the other senders' messages too (from the database, every 2 s).
              Object.assign(totals, await logs.sendingCounts(deliveryId));
              countedAt = Date.now();
            }
          }
          while (inFlight.size >= window && !stopped()) await Promise.race(inFlight);
          if (stopped()) break;
          const next = nextAllowed(queue);
          if (next === undefined) {
            // Only capped domains are left: hand their rows back until their turn, and let the next
            // window (other domains) go ahead instead of waiting behind them.
            const held = deferUntilTurn(queue.splice(0));
            await logs.defer(held);
            for (const d of held) deferredUntil = Math.max(deferredUntil, d.until.getTime());
            continue;
          }
          await pace();
          if (stopped()) {
            gate.release(domainOf(next.email));
            queue.unshift(next);
            break;
          }
          const sending: Promise<void> = send(next, compose(next)).finally(() => inFlight.delete(sending));
          inFlight.add(sending);
        }
      } finally {
        await Promise.all(inFlight);
        clearInterval(flushTimer);
      }
      await logs.release([...unsent, ...queue.map((r) => r.id)]);
      await flush();
      // Retried by Temporal with backoff; the released rows are sent by the next attempt.
      if (unavailable) throw ApplicationFailure.retryable(`SMTP relay unavailable: ${unavailable}`, 'SmtpUnavailable');
      if (ctx.cancellationSignal.aborted) await ctx.cancelled; // throws CancelledFailure: the workflow paused or stopped
      finished = true;
    } finally {
      // Interrupted (pause, stop, relay outage): tell the workflow the exact totals before it moves on.
      await progress.stop({ signal: !finished });
    }
    const errorsByReason: Record<string, number> = {};
    for (const { reason, count } of await logs.failureReasons(deliveryId)) {
      errorsByReason[reasonKey(reason)] = (errorsByReason[reasonKey(reason)] ?? 0) + count;
    }
    const retryAt = await logs.nextRetryAt(deliveryId);
    return { ...(await logs.sendingCounts(deliveryId)), errorsByReason, ...(retryAt ? { nextRetryAt: retryAt.toISOString() } : {}) };

    /** Hands one message to SMTP; its outcome joins the next recording. */
    async function send(row: ClaimedMessage, message: OutgoingMessage): Promise<void> {
      const r = await mailer.send(message).finally(() => gate.release(domainOf(row.email)));
      const { id, email } = row;
      if (r.status === 'sent') completed.push({ id, email, status: 'sent' });
      else if (r.status === 'unavailable') {
        unavailable ??= r.error;
        unsent.push(id);
      } else {
        const retryAt = r.failure.type === 'soft' ? nextRetryAt(new Date(), row.softFailures + 1, sendingStartedAt, spec.retries) : undefined;
        completed.push(retryAt
          ? { id, email, status: 'retry', retryAt, reason: r.failure.reason }
          : { id, email, status: 'failed', failureType: r.failure.type, reason: r.failure.reason });
      }
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

    async function persist(outcomes: MessageOutcome[]) {
      await logs.record(outcomes);
      await recordQuarantine(outcomes);
      const count = { sent: 0, failed: 0, retry: 0 };
      for (const o of outcomes) count[o.status]++;
      totals.sent += count.sent;
      totals.delivered += count.sent;
      totals.failed += count.failed;
      deps.metrics?.sent.add(count.sent);
      deps.metrics?.failed.add(count.failed);
      deps.metrics?.retried.add(count.retry);
    }

    async function recordQuarantine(outcomes: MessageOutcome[]) {
      await addresses.recordSuccesses(outcomes.filter((o) => o.status === 'sent').map((o) => o.email));
      await addresses.recordFailures(outcomes.flatMap((o) =>
        o.status === 'failed' ? [{ address: o.email, deliveryId, failure: { type: o.failureType, reason: o.reason } }]
          : o.status === 'retry' ? [{ address: o.email, deliveryId, failure: { type: 'soft' as const, reason: o.reason } }]
            : []), deps.softErrorsBeforeQuarantine);
    }
  };
}

/** Builds one recipient's message from what the preparation captured. */
function composer(deliveryId: string, spec: DeliverySpec, tracking: TrackingSetup, bounceDomain?: string) {
  const messages = deliveryMessages(deliveryId, spec, tracking);
  const mime = mimeSkeleton(spec.from, deliveryId);
  const sender = parseSender(spec.from).address;
  return (row: ClaimedMessage): OutgoingMessage => ({
    envelopeFrom: bounceDomain ? `bounces+${row.id}@${bounceDomain}` : sender,
    to: row.email,
    raw: mime({ to: row.email, ...messages.compose(row.id, JSON.parse(row.personalization) as Record<string, unknown>) }),
  });
}
