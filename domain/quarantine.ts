// Quarantine policy: a hard failure quarantines the address at once; soft failures after a threshold;
// a successful send returns it to valid. Failures of type "ignored" are not the address's fault.
import type { Failure } from './failures';

export interface QuarantineState {
  status: 'quarantined' | 'valid';
  failureType: 'hard' | 'soft';
  reason: string;
  errorCount: number;
  quarantinedAt: Date | null;
}

export const DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE = 5;

export function afterFailure(current: QuarantineState | undefined, failure: Failure, softThreshold: number, now: Date): QuarantineState | undefined {
  if (failure.type === 'ignored') return current;
  const errorCount = (current?.errorCount ?? 0) + 1;
  const quarantine = failure.type === 'hard' || errorCount >= softThreshold;
  return {
    status: quarantine ? 'quarantined' : current?.status ?? 'valid',
    failureType: failure.type,
    reason: failure.reason,
    errorCount,
    quarantinedAt: quarantine ? current?.quarantinedAt ?? now : current?.quarantinedAt ?? null,
  };
}
