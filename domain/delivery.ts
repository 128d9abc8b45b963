// Shared vocabulary of a delivery: states, KPIs, log entries, activity results.
// Pure types and arithmetic: imported by the workflow, the activities and the CLI.
import type { PreparedWave } from './waves';
import type { LocalTimeGroup } from './local-time-plan';

export const DELIVERY_STATES = [
  'preparing', 'prepared', 'scheduled', 'sending', 'paused', 'sent', 'stopped', 'failed', 'terminated',
] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** `terminated`: its workflow was terminated or timed out in Temporal; a run of its own then reconciled it. */
export const FINAL_STATES: readonly DeliveryState[] = ['sent', 'stopped', 'failed', 'terminated'];

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
  // Checked again when the message is about to go (a scheduled delivery, a soft retry days later).
  optedOutSincePreparation: 'opted out since the preparation',
  quarantinedSincePreparation: 'quarantined since the preparation',
  erasedSincePreparation: 'erased since the preparation',
} as const;
/** Causes of rows excluded when their message was about to go, after the preparation (kpis.excludedAtSend). */
export const AT_SEND_CAUSES: string[] = [EXCLUSION_CAUSES.optedOutSincePreparation, EXCLUSION_CAUSES.quarantinedSincePreparation, EXCLUSION_CAUSES.erasedSincePreparation];
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
  /** Distinct recipients who opened (open pixel). */
  opens: number;
  /** Distinct recipients who clicked a tracked link at least once (unsubscribe and mirror page excluded). */
  clicks: number;
  /** opens ÷ delivered, in percent (one decimal). */
  openRate: number;
  /** clicks ÷ delivered, in percent (one decimal). */
  clickRate: number;
  totalOpens: number;
  totalClicks: number;
  unsubscriptions: number;
  mirrorPageViews: number;
  /** Clicks per tracked link, by the link's URL as written in the template. */
  clicksByLink: Record<string, number>;
  /**
   * Messages that may have reached their recipient twice: in flight when a sending attempt died (a worker
   * crash, a database outage it could not wait out), or whose connection was lost after their content
   * went out. Real duplicates are at most this many.
   */
  possibleDuplicates: number;
  /** Recipients not sent because they opted out, were quarantined or erased after the preparation (checked at send time). */
  excludedAtSend: number;
  /** Messages never sent because the delivery was stopped (absent from runs started before it existed). */
  cancelled: number;
  /**
   * Messages refused because of the sender, not the address: authentication (SPF, DKIM, DMARC), reputation or
   * content, in the SMTP session or by a DSN. Never a quarantine (absent from runs started before it existed).
   */
  senderRefusals: number;
  /** Recipients who reported the message as spam (feedback loops, ESP events); each was opted out. */
  complaints: number;
  /** complaints ÷ delivered, in percent (two decimals: Gmail and Yahoo draw the line at 0.3%, 0.1% to be safe). */
  complaintRate: number;
  /** With an A/B test: each variant's own counts (the test population first, then the rest once it got the winner). */
  variants?: Record<string, VariantKpis>;
}

export interface VariantKpis {
  sent: number;
  delivered: number;
  opens: number;
  clicks: number;
  /** opens ÷ delivered, clicks ÷ delivered, in percent (one decimal). */
  openRate: number;
  clickRate: number;
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
  /** With an A/B test: the messages of each variant's test population (the rest, toDeliver minus these, get the winner). */
  variants?: Record<string, number>;
  /** With waves: each wave's messages and the highest sending-log id it takes, in order. */
  waves?: PreparedWave[];
  /** With the recipient's local time: the groups of zones as they would go if sending started at the preparation. */
  localTime?: LocalTimeGroup[];
}

/** Totals from the sending logs, reported by the sending activity (heartbeats, progress signals, result). */
export interface SendingProgress {
  /** Accepted by the relay (including messages that bounced later). */
  sent: number;
  /** Sent and not hard-bounced later. */
  delivered: number;
  /** Failed for good: refused by the relay, soft failures past the validity period, hard bounces. */
  failed: number;
  possibleDuplicates: number;
  /** Opted out or quarantined since the preparation: not sent. */
  excludedAtSend: number;
  /** Refused for the sender (authentication, reputation, content), in the session or by a DSN; absent before it existed. */
  senderRefusals?: number;
  /** Spam complaints (ARF reports, ESP events); absent before it existed. */
  complaints?: number;
  /** With an A/B test: sent and delivered per variant. */
  variants?: Record<string, { sent: number; delivered: number }>;
}

/** Why the engine paused a delivery by itself: a relay fault only ops can fix, or the failure-rate guard. */
export interface Halt {
  by: 'relay' | 'guard';
  /** The cause and the fix, in one sentence for the logs, `status` and the Web UI. */
  reason: string;
  /** The complaint breaker's: resuming accepts the complaints so far. */
  complaints?: boolean;
}

/** What a sending activity returns when it has nothing left to send now, or halted. */
export interface SendingResult extends SendingProgress {
  /** Set when the sender stopped for a reason ops must look at: the delivery pauses itself. */
  halted?: Halt;
  /** Soft failures (or held messages) wait until then (ISO date); absent when everything is settled. */
  nextRetryAt?: string;
  /**
   * Why the messages left wait until `nextRetryAt`, when it is not a soft retry: the sending plan (outside the window,
   * the daily cap, the warm-up allowance) or a suspended provider ("yahoo suspended until …: …").
   */
  held?: string;
  /** Final failures counted by reason ("user unknown": 3). */
  errorsByReason: Record<string, number>;
}

export function emptyKpis(): Kpis {
  return {
    targeted: 0, toDeliver: 0, toExclude: 0, sent: 0, delivered: 0, failed: 0, pending: 0,
    opens: 0, clicks: 0, openRate: 0, clickRate: 0, totalOpens: 0, totalClicks: 0, unsubscriptions: 0, mirrorPageViews: 0,
    clicksByLink: {}, possibleDuplicates: 0, excludedAtSend: 0, cancelled: 0, senderRefusals: 0, complaints: 0, complaintRate: 0,
  };
}

export function kpisAfterPreparation(p: PreparationResult): Kpis {
  return { ...emptyKpis(), targeted: p.targeted, toDeliver: p.toDeliver, toExclude: p.toExclude, pending: p.toDeliver };
}

/** Sending counts are totals from the database, so applying them twice is harmless. */
export function kpisWithSending(k: Kpis, s: SendingProgress): Kpis {
  return withRates({
    ...k,
    sent: s.sent,
    delivered: s.delivered,
    failed: s.failed,
    // A bounced message counts in both sent and failed: pending is what has no outcome yet.
    pending: Math.max(0, k.toDeliver - s.delivered - s.failed - s.excludedAtSend),
    possibleDuplicates: s.possibleDuplicates,
    excludedAtSend: s.excludedAtSend,
    senderRefusals: Number.isSafeInteger(s.senderRefusals) && s.senderRefusals! >= 0 ? s.senderRefusals! : k.senderRefusals ?? 0,
    complaints: Number.isSafeInteger(s.complaints) && s.complaints! >= 0 ? s.complaints! : k.complaints ?? 0,
    ...(s.variants ? { variants: withVariantCounts(k.variants, s.variants) } : {}),
  });
}

/** Per-variant counts from a report (sending or tracking) over what the KPIs held: each report's own fields win. */
function withVariantCounts(current: Kpis['variants'], counts: Record<string, Partial<VariantKpis>>): Record<string, VariantKpis> {
  const merged: Record<string, VariantKpis> = {};
  for (const name of new Set([...Object.keys(current ?? {}), ...Object.keys(counts)])) {
    const v = { sent: 0, delivered: 0, opens: 0, clicks: 0, ...current?.[name], ...counts[name] };
    const rate = (n: number) => (v.delivered === 0 ? 0 : Math.round((1000 * n) / v.delivered) / 10);
    merged[name] = { sent: v.sent, delivered: v.delivered, opens: v.opens, clicks: v.clicks, openRate: rate(v.opens), clickRate: rate(v.clicks) };
  }
  return merged;
}

/** Tracking totals from the tracking events (opens, clicks, unsubscriptions), reported by the tracking server. */
export interface TrackingCounts {
  opens: number;
  totalOpens: number;
  clicks: number;
  totalClicks: number;
  unsubscriptions: number;
  mirrorPageViews: number;
  clicksByLink: Record<string, number>;
  /** With an A/B test: distinct openers and clickers per variant. */
  variants?: Record<string, { opens: number; clicks: number }>;
}

/** Events counted per kind and link: total events, and distinct recipients. */
export interface TrackingTally {
  kind: string;
  linkId: number;
  total: number;
  recipients: number;
}

/**
 * Tracking KPIs from the tallies of a delivery's events. Distinct clickers need one more count across
 * links (a recipient clicking two links is one clicker): `clickers`.
 */
export function trackingCounts(tallies: TrackingTally[], clickers: number, linkUrl: (linkId: number) => string | undefined): TrackingCounts {
  const of = (kind: string) => tallies.filter((t) => t.kind === kind);
  const sum = (rows: TrackingTally[], key: 'total' | 'recipients') => rows.reduce((n, t) => n + t[key], 0);
  const clicksByLink: Record<string, number> = {};
  for (const t of of('click')) {
    const url = linkUrl(t.linkId) ?? `link ${t.linkId}`;
    clicksByLink[url] = (clicksByLink[url] ?? 0) + t.total;
  }
  return {
    opens: sum(of('open'), 'recipients'),
    totalOpens: sum(of('open'), 'total'),
    clicks: clickers,
    totalClicks: sum(of('click'), 'total'),
    unsubscriptions: sum(of('unsubscribe'), 'recipients'),
    mirrorPageViews: sum(of('mirror'), 'total'),
    clicksByLink,
  };
}

/** Tracking counts are totals too: the latest report wins. */
export function kpisWithTracking(k: Kpis, t: TrackingCounts): Kpis {
  return withRates({
    ...k,
    opens: t.opens, totalOpens: t.totalOpens, clicks: t.clicks, totalClicks: t.totalClicks,
    unsubscriptions: t.unsubscriptions, mirrorPageViews: t.mirrorPageViews, clicksByLink: t.clicksByLink,
    ...(t.variants ? { variants: withVariantCounts(k.variants, t.variants) } : {}),
  });
}

function withRates(k: Kpis): Kpis {
  const rate = (n: number) => (k.delivered === 0 ? 0 : Math.round((1000 * n) / k.delivered) / 10);
  const complaints = k.complaints ?? 0;
  return {
    ...k, openRate: rate(k.opens), clickRate: rate(k.clicks),
    complaints, complaintRate: k.delivered === 0 ? 0 : Math.round((10_000 * complaints) / k.delivered) / 100,
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
