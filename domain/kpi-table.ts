// The KPIs of a delivery as ops read them: one row per KPI (its name in the `kpis` query, its label, the base
// of its percentage, what it means). The CLI's table, the Web UI's current details and the README's list all
// come from here: adding a KPI means a field in the projection (store/delivery-counts.ts) and a row here.
import { percent, type Kpis } from './delivery';

type Count = { [K in keyof Kpis]-?: Kpis[K] extends number ? K : never }[keyof Kpis];

export interface KpiRow {
  key: Count;
  label: string;
  /** The count its percentage is of (none: no percentage). */
  base?: { of: (k: Kpis) => number; label: string };
  /** Shown in the CLI only when not zero (rare, and alarming when present). */
  onlyWhenSet?: boolean;
  /** Its word in the Web UI's current details line (absent: not in that line). */
  short?: string;
  /** A total of events shown beside the count of distinct recipients. */
  events?: { key: Count; noun: string };
  meaning: string;
}

export const KPI_TABLE: readonly KpiRow[] = [
  { key: 'targeted', label: 'Targeted', short: 'targeted', meaning: 'profiles the audience selected' },
  { key: 'toDeliver', label: 'To deliver', short: 'to deliver', base: { of: (k) => k.targeted, label: 'targeted' }, meaning: 'targeted and not excluded: the messages to send' },
  { key: 'toExclude', label: 'To exclude', short: 'excluded', base: { of: (k) => k.targeted, label: 'targeted' }, meaning: 'excluded by the preparation, each with its cause (query `exclusions`)' },
  { key: 'sent', label: 'Sent', short: 'sent', base: { of: (k) => k.toDeliver, label: 'to deliver' }, meaning: 'accepted by the relay (including messages that bounced later)' },
  { key: 'delivered', label: 'Delivered', short: 'delivered', base: { of: (k) => k.sent, label: 'sent' }, meaning: 'sent and not hard-bounced later' },
  { key: 'failed', label: 'Errors', short: 'errors', base: { of: (k) => k.sent + k.failed, label: 'sent + errors' }, meaning: 'failed for good: refused by the relay, soft failures past the validity period, hard bounces' },
  { key: 'pending', label: 'Pending', short: 'pending', base: { of: (k) => k.toDeliver, label: 'to deliver' }, meaning: 'to deliver and without an outcome yet (waiting, or waiting to retry)' },
  { key: 'cancelled', label: 'Cancelled', short: 'cancelled', onlyWhenSet: true, base: { of: (k) => k.toDeliver, label: 'to deliver' }, meaning: 'never sent: the delivery was stopped before their turn' },
  { key: 'opens', label: 'Opens', short: 'opens', base: { of: (k) => k.delivered, label: 'delivered' }, events: { key: 'totalOpens', noun: 'opens' }, meaning: 'distinct recipients who loaded the open pixel' },
  { key: 'clicks', label: 'Clicks', short: 'clicks', base: { of: (k) => k.delivered, label: 'delivered' }, events: { key: 'totalClicks', noun: 'clicks' }, meaning: 'distinct recipients who clicked a tracked link (unsubscribe and mirror page excluded)' },
  { key: 'unsubscriptions', label: 'Unsubscriptions', short: 'unsubscriptions', meaning: 'distinct recipients who used the unsubscribe link' },
  { key: 'complaints', label: 'Complaints', short: 'complaints', base: { of: (k) => k.delivered, label: 'delivered' }, meaning: 'recipients who reported the message as spam (feedback loops, ESP events); each is opted out. Keep under 0.1%: Gmail and Yahoo act from 0.3%' },
  { key: 'mirrorPageViews', label: 'Mirror page views', meaning: 'views of the message\'s web version' },
  { key: 'senderRefusals', label: 'Refused for the sender', onlyWhenSet: true, meaning: 'refused because of the sender, not the address: authentication (SPF, DKIM, DMARC), reputation or content; never a quarantine' },
  { key: 'excludedAtSend', label: 'Excluded at send', onlyWhenSet: true, meaning: 'opted out, quarantined or erased since the preparation: not sent' },
  { key: 'possibleDuplicates', label: 'Possible duplicates', onlyWhenSet: true, meaning: 'may have been received twice (in flight at a crash, or a connection lost after sending); real duplicates are at most this many' },
];

/** The rate of a row, as the `kpis` query's own rates for opens and clicks (one decimal). */
function share(row: KpiRow, k: Kpis): string {
  if (row.key === 'opens') return `${k.openRate.toFixed(1)}%`;
  if (row.key === 'clicks') return `${k.clickRate.toFixed(1)}%`;
  if (row.key === 'complaints') return `${(k.complaintRate ?? 0).toFixed(2)}%`;
  return row.base ? percent(k[row.key], row.base.of(k)) : '';
}

/** The CLI's table of KPIs, one line each. */
export function kpiLines(k: Kpis): [label: string, count: number, note: string][] {
  return KPI_TABLE.filter((row) => !row.onlyWhenSet || k[row.key] > 0).map((row) => {
    const of = row.events ? `${share(row, k)} of ${row.base!.label} (${k[row.events.key]} ${row.events.noun} in all)` : share(row, k);
    return [row.label, k[row.key], row.onlyWhenSet && !row.base ? row.meaning.split(';')[0] : of];
  });
}

/** The Web UI's current details line: the situation first, then the KPIs. */
export function kpiDetails(situation: string, k: Kpis): string {
  const parts = KPI_TABLE.filter((row) => row.short && (!row.onlyWhenSet || k[row.key] > 0)).map((row) => `${row.short} ${k[row.key]}${row.events ? ` (${share(row, k)})` : ''}`);
  return [situation, ...parts].join(' · ');
}

/** With an A/B test, a line per variant: "variant B: sent 20 · delivered 20 · opens 9 (45.0%) · clicks 4 (20.0%)". */
export function variantLines(k: Kpis): string[] {
  return Object.entries(k.variants ?? {}).map(([name, v]) =>
    `variant ${name}: sent ${v.sent} · delivered ${v.delivered} · opens ${v.opens} (${v.openRate.toFixed(1)}%) · clicks ${v.clicks} (${v.clickRate.toFixed(1)}%)`);
}

/** The README's list of KPIs (kept in sync by a unit test). */
export function kpiMarkdown(): string {
  return [
    '| KPI | `kpis` field | % of | meaning |', '|---|---|---|---|',
    ...KPI_TABLE.map((row) => `| ${row.label} | \`${row.key}\` | ${row.base?.label ?? ''} | ${row.meaning} |`),
  ].join('\n');
}
