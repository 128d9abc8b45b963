// Shared vocabulary of a delivery: states, KPIs, log entries, activity results.
// Pure types and arithmetic: imported by the workflow, the activities and the CLI.

export const DELIVERY_STATES = [
  'preparing', 'prepared', 'scheduled', 'sending', 'paused', 'sent', 'stopped', 'failed',
] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export const FINAL_STATES: readonly DeliveryState[] = ['sent', 'stopped', 'failed'];

/** Why a targeted recipient is not sent to (always-on typology rules). */
export const EXCLUSION_CAUSES = ['invalid address', 'duplicate', 'opted out', 'address not specified'] as const;
export type ExclusionCause = (typeof EXCLUSION_CAUSES)[number];
export type ExclusionCounts = Partial<Record<ExclusionCause, number>>;

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

/** Counts the sending activity reports (in heartbeats, progress signals and its result). */
export interface SendingProgress {
  sent: number;
  failed: number;
  resentAfterCrash: number;
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
  // Delivered = Sent until asynchronous bounces exist (they subtract later hard bounces).
  return {
    ...k,
    sent: s.sent,
    delivered: s.sent,
    failed: s.failed,
    pending: Math.max(0, k.toDeliver - s.sent - s.failed),
    resentAfterCrash: s.resentAfterCrash,
  };
}

export function percent(part: number, base: number): string {
  return base === 0 ? '0%' : `${((100 * part) / base).toFixed(1)}%`;
}
