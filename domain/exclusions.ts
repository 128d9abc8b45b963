// Always-on typology rules: which targeted profiles are excluded, and why.
import type { ExclusionCause } from './delivery';
import { addressKey, isValidAddress } from './address';

export interface TargetedProfile {
  email: string;
  optOut: boolean;
}

/**
 * The cause excluding a profile, or undefined when it is to be delivered.
 * `alreadyTargeted` holds the address keys of profiles kept so far (the first profile with an address wins).
 */
export function exclusionCause(profile: TargetedProfile, alreadyTargeted: ReadonlySet<string>): ExclusionCause | undefined {
  if (profile.email.trim() === '') return 'address not specified';
  if (!isValidAddress(profile.email.trim())) return 'invalid address';
  if (profile.optOut) return 'opted out';
  if (alreadyTargeted.has(addressKey(profile.email))) return 'duplicate';
  return undefined;
}
