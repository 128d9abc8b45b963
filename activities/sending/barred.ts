// Opt-out, quarantine and erasure are checked again when a message is about to go: a recipient who unsubscribed,
// was quarantined or erased since the preparation (days before, for a scheduled delivery or a soft retry) is not
// sent, and counts in the KPI excludedAtSend.
import { addressKey } from '../../domain/address';
import { EXCLUSION_CAUSES, type ExclusionCause } from '../../domain/delivery';
import { isErasedAddress } from '../../store/erasure';
import type { ClaimedMessage } from '../../store/sending-logs';
import type { AttemptSetup } from './setup';

/** The claimed rows still sendable; the others are recorded as excluded at send (fenced by the claim). */
export async function withoutBarred(s: AttemptSetup, rows: ClaimedMessage[]): Promise<ClaimedMessage[]> {
  if (rows.length === 0) return rows;
  const keys = rows.map((r) => addressKey(r.email));
  const [optedOut, quarantined, unsubscribed] = await Promise.all([s.optOutList.among(keys), s.addresses.quarantinedAmong(keys),
    s.leftList === undefined ? new Set<string>() : s.lists.unsubscribedAmong(s.leftList, keys)]);
  for (const k of unsubscribed) optedOut.add(k);
  // An erased person's row holds a hash, never an address to send to.
  const barred = rows.flatMap((r, i): Array<{ id: number; cause: ExclusionCause }> => (isErasedAddress(r.email) ? [{ id: r.id, cause: EXCLUSION_CAUSES.erasedSincePreparation }]
    : optedOut.has(keys[i]) ? [{ id: r.id, cause: EXCLUSION_CAUSES.optedOutSincePreparation }]
      : quarantined.has(keys[i]) ? [{ id: r.id, cause: EXCLUSION_CAUSES.quarantinedSincePreparation }] : []));
  if (barred.length === 0) return rows;
  const taken = new Set(await s.logs.excludeAtSend(s.claim, barred));
  s.totals.excludedAtSend += taken.size;
  // A row not taken was re-queued by another attempt meanwhile: not ours to send either.
  const skipped = new Set(barred.map((b) => b.id));
  return rows.filter((r) => !skipped.has(r.id));
}
