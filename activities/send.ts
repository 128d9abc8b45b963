// Sending: claim a window of prepared messages, hand them to SMTP, record each outcome.
// Progress is checkpointed per message at send time (not at fetch time), so a retried attempt
// never skips a recipient; only the rows in flight when a worker died can be sent twice.
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { SendingProgress } from '../domain/delivery';
import { parseSender, type DeliverySpec } from '../domain/spec';
import { compileTemplates, type CompiledTemplates } from '../domain/template';
import { sendingLogs, type ClaimedMessage, type MessageOutcome } from '../store/sending-logs';
import type { ActivityDeps } from './deps';
import type { OutgoingMessage } from './mailer';
import { pacer } from './pacer';
import { startProgress } from './progress';

export interface SendInput {
  deliveryId: string;
}

export function sendActivity(deps: ActivityDeps) {
  return async function sendDelivery({ deliveryId }: SendInput): Promise<SendingProgress> {
    const ctx = Context.current();
    const { db, mailer } = deps;
    const logs = sendingLogs(db);
    const delivery = await db.delivery.findUniqueOrThrow({ where: { id: deliveryId } });
    const spec = JSON.parse(delivery.spec) as DeliverySpec;
    const compose = composer(deliveryId, spec, compileTemplates(spec));

    await logs.requeueInFlight(deliveryId);
    const totals = await logs.sendingCounts(deliveryId);
    let cursor = 0;
    const progress = startProgress(ctx, () => ({ phase: 'sending', ...totals, cursor }), deps.signalProgress, deps.progressEveryMs);
    const pace = pacer(spec.messagesPerSecond);
    const claim = `${ctx.info.activityId}/${ctx.info.attempt}/${randomUUID()}`;
    // A window keeps every connection busy, but never holds more than about a second of a capped
    // rate: claimed rows are what a crash could send twice, and progress moves once per window.
    const window = Math.max(1, Math.min(mailer.maxConnections * 4, Math.ceil(spec.messagesPerSecond ?? Infinity)));
    let finished = false;
    try {
      for (;;) {
        await yieldToEventLoop(); // synchronous SQLite calls must not starve heartbeats and workflow tasks
        if (ctx.cancellationSignal.aborted) await ctx.cancelled; // throws CancelledFailure: the workflow paused or stopped
        const batch = await logs.claim(deliveryId, claim, window);
        if (batch.length === 0) break;
        const { outcomes, unsent, unavailable } = await sendBatch(batch);
        await logs.record(outcomes);
        await logs.release(unsent);
        for (const o of outcomes) totals[o.status === 'sent' ? 'sent' : 'failed']++;
        cursor = batch[batch.length - 1].id;
        if (unavailable) {
          // Retried by Temporal with backoff; the released rows are sent by the next attempt.
          throw ApplicationFailure.retryable(`SMTP relay unavailable: ${unavailable}`, 'SmtpUnavailable');
        }
      }
      finished = true;
    } finally {
      // Interrupted (pause, stop, relay outage): tell the workflow the exact totals before it moves on.
      await progress.stop({ signal: !finished });
    }
    return logs.sendingCounts(deliveryId);

    async function sendBatch(batch: ClaimedMessage[]) {
      const outcomes: MessageOutcome[] = [];
      const unsent: number[] = [];
      let unavailable: string | undefined;
      const inFlight: Promise<void>[] = [];
      for (const row of batch) {
        if (!unavailable && !ctx.cancellationSignal.aborted) await pace();
        if (unavailable || ctx.cancellationSignal.aborted) {
          unsent.push(row.id);
          continue;
        }
        const message = compose(row);
        inFlight.push(mailer.send(message).then((r) => {
          if (r.status === 'sent') outcomes.push({ id: row.id, status: 'sent', messageId: message.messageId });
          else if (r.status === 'failed') outcomes.push({ id: row.id, status: 'failed', failureType: r.failure.type, reason: r.failure.reason });
          else {
            unavailable ??= r.error;
            unsent.push(row.id);
          }
        }));
      }
      await Promise.all(inFlight);
      return { outcomes, unsent, unavailable };
    }
  };
}

/** Builds one recipient's message from what the preparation captured. */
function composer(deliveryId: string, spec: DeliverySpec, templates: CompiledTemplates) {
  const senderDomain = parseSender(spec.from).address.split('@')[1];
  return (row: ClaimedMessage): OutgoingMessage => {
    const rendered = templates.render(JSON.parse(row.personalization) as Record<string, unknown>);
    return {
      from: spec.from,
      to: row.email,
      ...rendered,
      // Stable per recipient, so a bounce (or a duplicate after a crash) maps back to its sending log.
      messageId: `<${deliveryId}.${row.id}@${senderDomain}>`,
      headers: { 'X-Delivery-Id': deliveryId },
    };
  };
}
