// What the relay's answer about one message means: the outcome to record, and what the failure-rate guard counts.
import { reasonKey, type Failure } from '../../domain/failures';
import type { RelayFault } from '../../domain/smtp-faults';
import type { ShapingRule } from '../../domain/shaping-rules';
import { nextRetryAt, type RetryPolicy } from '../../domain/retries';
import type { ClaimedMessage, MessageOutcome } from '../../store/sending-logs';
import type { SendResult } from '../mailer';

export type Answered =
  /** `counted`: the reason the guard counts as a failure (undefined: counted as a success). */
  | { outcome: MessageOutcome; counted: string | undefined }
  /** Never reached the relay: given back; a relay fault stops the attempt. */
  | { unsent: true; fault?: RelayFault }
  /** Its provider asked us to slow down or wait: back in the queue, counted nowhere. */
  | { throttled: { rule: ShapingRule; reply: string } };

type Failed = Exclude<MessageOutcome, { status: 'sent' }>;

export function answerOf(row: ClaimedMessage, r: SendResult, sendingStartedAt: Date, retries: RetryPolicy, now = new Date()): Answered {
  const retryAt = () => nextRetryAt(now, row.softFailures + 1, sendingStartedAt, retries);
  const failed = (failure: Failure): Failed => {
    const at = failure.type === 'soft' ? retryAt() : undefined;
    return at
      ? { id: row.id, email: row.email, status: 'retry', retryAt: at, reason: failure.reason }
      : { id: row.id, email: row.email, status: 'failed', failureType: failure.type, reason: failure.reason };
  };
  switch (r.status) {
    case 'sent':
      return { outcome: { id: row.id, email: row.email, status: 'sent', acceptedAt: now }, counted: undefined };
    case 'failed':
      return { outcome: failed(r.failure), counted: r.failure.type === 'hard' ? reasonKey(r.failure.reason) : undefined };
    case 'refused for the sender': {
      // Not the address's fault: no quarantine; retried when temporary; the guard counts it.
      const at = r.temporary ? retryAt() : undefined;
      const reason = r.failure.reason;
      return {
        outcome: at
          ? { id: row.id, email: row.email, status: 'retry', retryAt: at, reason, failureType: 'ignored', senderRefused: true }
          : { id: row.id, email: row.email, status: 'failed', failureType: 'ignored', reason, senderRefused: true },
        counted: reasonKey(reason),
      };
    }
    case 'unknown':
      // The relay may have taken it: retried like a soft failure, counted as a possible duplicate, and not
      // held against the address.
      return { outcome: { ...failed(r.failure), possibleDuplicate: true }, counted: undefined };
    case 'unsent':
      return { unsent: true, fault: r.fault };
    case 'throttled':
      return { throttled: { rule: r.rule, reply: r.reply } };
  }
}
