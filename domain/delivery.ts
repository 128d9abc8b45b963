// Shared vocabulary of a delivery: states, KPIs, log entries, activity results.
// Pure types and arithmetic: imported by the workflow, the activities and the CLI.

export const DELIVERY_STATES = [
  'preparing', 'prepared', 'scheduled', 'sending', 'paused', 'sent', 'stopped', 'failed',
] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export const FINAL_STATES: readonly DeliveryState[] = ['sent', 'stopped', 'failed'];

/** Why a targeted recipient is not sent to: one of these, or `filter: <rule name>`. */
export const EXCLUSION_CAUSES = {
  noAddress: 'address not specified',
  invalidAddress: 'invalid address',
  quarantine: 'address in quarantine',
  optedOut: 'opted out',
  duplicate: 'duplicate',
  pressure: 'pressure',
  controlGroup: 'control group',
  capacity: 'capacity',
} as const;
export type ExclusionCause = string;
export type ExclusionCounts = Record<ExclusionCause, number>;
export const filterCause = (ruleName: string): ExclusionCause => `filter: ${ruleName}`;

export interface Kpis {
  targeted: number;
  toDeliver: number;
  toExclude: number;
  sent: number;
  delivered: number;
  failed: number;
  pending: number;
  opens: number;
  clicks: number;
  /** Messages sent again because they were in flight when a worker died (possible duplicates). */
  resentAfterCrash: number;
}

export type LogLevel = 'info' | 'warning' | 'error';
export interface LogEntry {
  time: string;
  level: LogLevel;
  message: string;
}

export interface PreparationResult {
  targeted: number;
  toDeliver: number;
  toExclude: number;
  exclusions: ExclusionCounts;
  warnings: string[];
}

/** Totals from the sending logs, reported by the sending activity (heartbeats, progress signals, result). */
export interface SendingProgress {
  /** Accepted by the relay (including messages that bounced later). */
  sent: number;
  /** Sent and not hard-bounced later. */
  delivered: number;
  /** Failed for good: refused by the relay, soft failures past the validity period, hard bounces. */
  failed: number;
  resentAfterCrash: number;
}

/** What a sending activity returns when it has nothing left to send now. */
export interface SendingResult extends SendingProgress {
  /** Soft failures wait for a retry until then (ISO date); absent when everything is settled. */
  nextRetryAt?: string;
  /** Final failures counted by reason ("user unknown": 3). */
  errorsByReason: Record<string, number>;
}

export interface PreparationProgress {
  processed: number;
}

export function emptyKpis(): Kpis {
  return {
    targeted: 0, toDeliver: 0, toExclude: 0, sent: 0, delivered: 0, failed: 0, pending: 0,
    opens: 0, clicks: 0, resentAfterCrash: 0,
  };
}

export function kpisAfterPreparation(p: PreparationResult): Kpis {
  return { ...emptyKpis(), targeted: p.targeted, toDeliver: p.toDeliver, toExclude: p.toExclude, pending: p.toDeliver };
}

/** Sending counts are totals from the database, so applying them twice is harmless. */
export function kpisWithSending(k: Kpis, s: SendingProgress): Kpis {
  return {
    ...k,
    sent: s.sent,
    delivered: s.delivered,
    failed: s.failed,
    // A bounced message counts in both sent and failed: pending is what has neither outcome yet.
    pending: Math.max(0, k.toDeliver - s.delivered - s.failed),
    resentAfterCrash: s.resentAfterCrash,
  };
}

export function percent(part: number, base: number): string {
  return base === 0 ? '0%' : `${((100 * part) / base).toFixed(1)}%`;
}

/** "3 errors: user unknown 2, mailbox full 1" — the last log line of a delivery. */
export function errorSummary(errorsByReason: Record<string, number>): string {
  const entries = Object.entries(errorsByReason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return '0 errors';
  return `${total} error${total > 1 ? 's' : ''}: ${entries.map(([reason, n]) => `${reason} ${n}`).join(', ')}`;
}
