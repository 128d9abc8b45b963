// Soft failures are retried inside the delivery, with a growing delay, until its validity period ends.

export interface RetryPolicy {
  /** How long after sending started a soft failure may still be retried. */
  validitySeconds: number;
  firstDelaySeconds: number;
  maxDelaySeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  validitySeconds: 3.5 * 24 * 3600, // the modern relay's cap
  firstDelaySeconds: 15 * 60,
  maxDelaySeconds: 3600,
};

/** When to retry after the n-th soft failure (1-based), or undefined when the validity period is over. */
export function nextRetryAt(now: Date, softFailures: number, sendingStartedAt: Date, policy: RetryPolicy): Date | undefined {
  const delay = Math.min(policy.firstDelaySeconds * 2 ** (softFailures - 1), policy.maxDelaySeconds);
  const at = new Date(now.getTime() + delay * 1000);
  return at.getTime() <= sendingStartedAt.getTime() + policy.validitySeconds * 1000 ? at : undefined;
}
