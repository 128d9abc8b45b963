// Writing a chunk of outcomes: fenced by the attempt's claim (rows another attempt took over are left alone and
// lose this attempt its lease), then what they mean for the quarantine, the totals and the metrics.
import type { MessageOutcome } from '../../store/sending-logs';
import type { ActivityDeps } from '../deps';
import type { AttemptLease } from '../lease';
import type { AttemptSetup } from './setup';

export function outcomeWriter(s: AttemptSetup, lease: AttemptLease, deps: Pick<ActivityDeps, 'metrics' | 'softErrorsBeforeQuarantine'>) {
  return async function write(outcomes: MessageOutcome[]): Promise<void> {
    const { applied, lost } = await s.logs.record(s.claim, outcomes);
    if (lost.length) lease.lose(`${lost.length} of its messages were re-queued by another attempt`);
    const mine = outcomes.filter((o) => applied.has(o.id));
    const successes = mine.filter((o) => o.status === 'sent');
    // The earliest acceptance of the chunk: an error recorded after it (its own bounce) keeps the quarantine.
    const acceptedAt = new Date(Math.min(...successes.map((o) => o.acceptedAt?.getTime() ?? Date.now())));
    await s.addresses.recordSuccesses(successes.map((o) => o.email), acceptedAt);
    // A possible duplicate (connection lost after the content went out) and a refusal for the sender are not the address's fault.
    await s.addresses.recordFailures(mine.flatMap((o) => (o.status === 'sent' || o.possibleDuplicate || o.senderRefused ? []
      : [{ address: o.email, deliveryId: s.deliveryId, failure: { type: o.status === 'retry' ? 'soft' as const : o.failureType, reason: o.reason } }])), deps.softErrorsBeforeQuarantine);
    const count = { sent: 0, failed: 0, retry: 0 };
    for (const o of mine) count[o.status]++;
    const { totals } = s;
    totals.sent += count.sent;
    totals.delivered += count.sent;
    totals.failed += count.failed;
    totals.possibleDuplicates += mine.filter((o) => o.status !== 'sent' && o.possibleDuplicate).length;
    totals.senderRefusals = (totals.senderRefusals ?? 0) + mine.filter((o) => o.status !== 'sent' && o.senderRefused).length;
    deps.metrics?.sent.add(count.sent);
    deps.metrics?.failed.add(count.failed);
    deps.metrics?.retried.add(count.retry);
  };
}
