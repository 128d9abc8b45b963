// Per-profile typology rules: which targeted profiles are excluded, and why. The order matters:
// a cause names the first rule that applies, and duplicates are judged last so that the profile
// kept for an address is one that passes every other rule.
import { EXCLUSION_CAUSES as C, filterCause, type ExclusionCause } from './delivery';
import { addressKey, isValidAddress } from './address';
import type { ProfileRecord } from './profile-fields';
import { matchingFilter, type Typology } from './typology';

export interface ExclusionContext {
  /** Address keys of the profiles kept so far (the first eligible profile with an address wins). */
  targeted: ReadonlySet<string>;
  /** Address keys in quarantine. */
  quarantined: ReadonlySet<string>;
  /** Address keys that opted out (through any profile that has them). */
  optedOut: ReadonlySet<string>;
  /** Messages sent to each profile during the pressure rule's period. */
  recentMessages: ReadonlyMap<number, number>;
  typology: Pick<Typology, 'filters' | 'pressure'>;
}

export function exclusionCause(profile: ProfileRecord, ctx: ExclusionContext): ExclusionCause | undefined {
  const email = profile.email.trim();
  if (email === '') return C.noAddress;
  if (!isValidAddress(email)) return C.invalidAddress;
  const key = addressKey(email);
  if (ctx.quarantined.has(key)) return C.quarantine;
  if (profile.optOut || ctx.optedOut.has(key)) return C.optedOut;
  const filter = matchingFilter(profile, ctx.typology.filters);
  if (filter) return filterCause(filter);
  const pressure = ctx.typology.pressure;
  if (pressure && (ctx.recentMessages.get(profile.id) ?? 0) >= pressure.maxMessages) return C.pressure;
  if (ctx.targeted.has(key)) return C.duplicate;
  return undefined;
}
