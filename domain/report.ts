// A picture of a delivery, as numbers: the funnel (targeted → delivered → opened → clicked), messages sent and
// opens and clicks over time, final failures by reason, and results by recipient domain. Built in one pass over the
// sending logs and one over the tracking events, page by page: memory holds each recipient's domain (to place
// opens and clicks) and who opened or clicked, tens of MB for a million recipients, never the rows themselves.
import { domainOf } from './address';
import { reasonKey } from './failures';

/** What the report reads of one sending log. */
export interface ReportRecipient {
  id: number;
  email: string;
  status: string;
  failureType: string | null;
  reason: string | null;
  sentAt: Date | null;
  /** With the best time per recipient: optimal, default or holdout (store/optimal-times.ts). */
  sendTimeClass?: string | null;
}

/** What the report reads of one tracking event. */
export interface ReportEvent {
  sendingLogId: number;
  kind: string;
  at: Date;
}

export interface DomainResult {
  domain: string;
  targeted: number;
  delivered: number;
  failed: number;
  opened: number;
  clicked: number;
}

export interface DeliveryReport {
  deliveryId: string;
  name: string;
  generatedAt: string;
  funnel: { targeted: number; excluded: number; delivered: number; opened: number; clicked: number };
  /** Counts per bucket from `start` (ISO), `bucketMinutes` wide: messages sent, opens and clicks (events). */
  timeline: { start: string; bucketMinutes: number; sent: number[]; opens: number[]; clicks: number[] };
  failuresByReason: Array<{ reason: string; type: string; count: number }>;
  /** The largest domains by recipients targeted, then the rest as "other domains". */
  byDomain: DomainResult[];
  /** With the best time per recipient: each class's results, and the lift of the chosen times over the holdout. */
  sendTime?: SendTimeResult;
}

/** Delivered, opened, clicked per class; `timed`: every message not in the holdout (optimal + default), the treated group. */
export interface SendTimeResult {
  classes: Array<{ class: string; delivered: number; opened: number; clicked: number }>;
  /** The relative change of the open and click rates (over delivered) of `timed` against the holdout, in %; absent without a holdout delivered. */
  lift?: { opens: number; clicks: number };
}

const MINUTE = 60_000;
const BUCKET_MINUTES = [1, 5, 15, 30, 60, 180, 360, 720, 1440];
/** At most this many points over time; at most this many domains (the rest together). */
const MAX_BUCKETS = 120;
const MAX_DOMAINS = 12;

type Tally = { sent: number; opens: number; clicks: number };

export function reportBuilder(deliveryId: string, name: string) {
  const byMinute = new Map<number, Tally>();
  const domains = new Map<string, DomainResult>();
  const domainOfRow = new Map<number, string>();
  const opened = new Set<number>();
  const clicked = new Set<number>();
  const failures = new Map<string, { reason: string; type: string; count: number }>();
  const funnel = { targeted: 0, excluded: 0, delivered: 0, opened: 0, clicked: 0 };
  const classOfRow = new Map<number, string>();
  const classes = new Map<string, { class: string; delivered: number; opened: number; clicked: number }>();
  const minute = (at: Date) => {
    const m = Math.floor(at.getTime() / MINUTE);
    let t = byMinute.get(m);
    if (!t) byMinute.set(m, (t = { sent: 0, opens: 0, clicks: 0 }));
    return t;
  };

  const classTally = (name: string) => {
    let c = classes.get(name);
    if (!c) classes.set(name, (c = { class: name, delivered: 0, opened: 0, clicked: 0 }));
    return c;
  };

  return {
    addRecipients(rows: ReportRecipient[]): void {
      for (const r of rows) {
        funnel.targeted++;
        if (r.status === 'ignored') {
          funnel.excluded++;
          continue;
        }
        const domain = r.email.includes('@') ? domainOf(r.email) : '(erased)';
        domainOfRow.set(r.id, domain);
        let d = domains.get(domain);
        if (!d) domains.set(domain, (d = { domain, targeted: 0, delivered: 0, failed: 0, opened: 0, clicked: 0 }));
        d.targeted++;
        if (r.sentAt) minute(r.sentAt).sent++;
        if (r.sendTimeClass) classOfRow.set(r.id, r.sendTimeClass);
        if (r.status === 'sent') {
          funnel.delivered++;
          d.delivered++;
          if (r.sendTimeClass) classTally(r.sendTimeClass).delivered++;
        } else if (r.status === 'failed') {
          d.failed++;
          const reason = reasonKey(r.reason ?? 'unknown');
          const type = r.failureType ?? 'hard';
          const f = failures.get(`${type}|${reason}`) ?? { reason, type, count: 0 };
          f.count++;
          failures.set(`${type}|${reason}`, f);
        }
      }
    },
    /** Events after the recipients: a recipient counts once per kind (as the KPIs count them), every event over time. */
    addEvents(events: ReportEvent[]): void {
      for (const e of events) {
        const seen = e.kind === 'open' ? opened : e.kind === 'click' ? clicked : undefined;
        if (!seen) continue;
        minute(e.at)[e.kind === 'open' ? 'opens' : 'clicks']++;
        if (seen.has(e.sendingLogId)) continue;
        seen.add(e.sendingLogId);
        const d = domains.get(domainOfRow.get(e.sendingLogId) ?? '');
        if (d) d[e.kind === 'open' ? 'opened' : 'clicked']++;
        const cls = classOfRow.get(e.sendingLogId);
        if (cls) classTally(cls)[e.kind === 'open' ? 'opened' : 'clicked']++;
      }
    },
    build(now = new Date()): DeliveryReport {
      funnel.opened = opened.size;
      funnel.clicked = clicked.size;
      return {
        deliveryId, name, generatedAt: now.toISOString(), funnel, timeline: timeline(byMinute),
        failuresByReason: [...failures.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
        byDomain: largestDomains([...domains.values()]),
        ...(classes.size ? { sendTime: sendTimeResult([...classes.values()]) } : {}),
      };
    },
  };
}

function timeline(byMinute: Map<number, Tally>): DeliveryReport['timeline'] {
  const minutes = [...byMinute.keys()];
  if (minutes.length === 0) return { start: new Date(0).toISOString(), bucketMinutes: 1, sent: [], opens: [], clicks: [] };
  const first = Math.min(...minutes);
  const span = Math.max(...minutes) - first + 1;
  const bucketMinutes = BUCKET_MINUTES.find((b) => span / b <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS);
  const start = Math.floor(first / bucketMinutes) * bucketMinutes;
  const buckets = Math.floor((first + span - 1 - start) / bucketMinutes) + 1;
  const series = { sent: new Array<number>(buckets).fill(0), opens: new Array<number>(buckets).fill(0), clicks: new Array<number>(buckets).fill(0) };
  for (const [m, t] of byMinute) {
    const i = Math.floor((m - start) / bucketMinutes);
    series.sent[i] += t.sent;
    series.opens[i] += t.opens;
    series.clicks[i] += t.clicks;
  }
  return { start: new Date(start * MINUTE).toISOString(), bucketMinutes, ...series };
}

function largestDomains(all: DomainResult[]): DomainResult[] {
  all.sort((a, b) => b.targeted - a.targeted || a.domain.localeCompare(b.domain));
  if (all.length <= MAX_DOMAINS) return all;
  const rest = all.slice(MAX_DOMAINS - 1).reduce((o, d) => ({
    ...o, targeted: o.targeted + d.targeted, delivered: o.delivered + d.delivered, failed: o.failed + d.failed, opened: o.opened + d.opened, clicked: o.clicked + d.clicked,
  }), { domain: `${all.length - MAX_DOMAINS + 1} other domains`, targeted: 0, delivered: 0, failed: 0, opened: 0, clicked: 0 });
  return [...all.slice(0, MAX_DOMAINS - 1), rest];
}

const CLASS_ORDER = ['optimal', 'default', 'holdout'];

/** The treated group (every message whose time the engine chose or defaulted) against the holdout (sent at the start). */
function sendTimeResult(classes: SendTimeResult['classes']): SendTimeResult {
  const sorted = classes.sort((a, b) => CLASS_ORDER.indexOf(a.class) - CLASS_ORDER.indexOf(b.class));
  const timed = sorted.filter((c) => c.class !== 'holdout').reduce((t, c) => ({ ...t, delivered: t.delivered + c.delivered, opened: t.opened + c.opened, clicked: t.clicked + c.clicked }),
    { class: 'timed', delivered: 0, opened: 0, clicked: 0 });
  const holdout = sorted.find((c) => c.class === 'holdout');
  const change = (a: number, b: number) => Math.round(1000 * (a / timed.delivered / (b / holdout!.delivered) - 1)) / 10;
  const lift = holdout && holdout.delivered > 0 && timed.delivered > 0 && holdout.opened > 0
    ? { opens: change(timed.opened, holdout.opened), clicks: holdout.clicked > 0 ? change(timed.clicked, holdout.clicked) : 0 }
    : undefined;
  return { classes: [...sorted, timed], ...(lift ? { lift } : {}) };
}
