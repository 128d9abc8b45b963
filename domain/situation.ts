// A delivery's situation in words: what ops read first in the Web UI's current details and in `delivery status`
// ("Waiting for confirm (manual approval)", "Sending 682 / 912 (74.8%) at 2.0 msg/s, ETA 1 min"). Pure: the
// workflow passes what it knows, at its own (deterministic) time.
import { percent, type DeliveryState, type Kpis } from './delivery';

export interface SituationFacts {
  state: DeliveryState;
  kpis: Kpis;
  approval: 'auto' | 'semi' | 'manual';
  awaitingConfirm?: boolean;
  proofMissing?: boolean;
  /** Recipients processed so far by the preparation. */
  preparedSoFar?: number;
  /** ISO date sending starts at (scheduled). */
  contactDate?: string;
  /** A pause was asked and the sending is still winding down. */
  pausing?: boolean;
  /** Why the engine paused the delivery by itself. */
  pausedBecause?: string;
  trackingUntil?: string;
  error?: string;
  /** Terminated in Temporal and not reconciled yet. */
  reconciling?: boolean;
  /** Since when this sending round runs, and how many messages had an outcome then: the rate is measured from there. */
  sendingSince?: { at: number; done: number };
  /** Soft failures wait for their retry until then (ISO): nothing else is left to send now. */
  retryAt?: string;
  /** Why the messages left wait until `retryAt` (the sending plan: a window, the daily cap, warm-up; a suspended provider; an A/B test's
   * decision), or without a time, until ops act (an A/B test's choose-winner). */
  heldBecause?: string;
  now: number;
}

export function situation(f: SituationFacts): string {
  const k = f.kpis;
  switch (f.state) {
    case 'preparing':
      return `Preparing: ${f.preparedSoFar ?? 0} recipients processed`;
    case 'prepared':
      if (!f.awaitingConfirm) return `Prepared: ${k.toDeliver} to deliver`;
      return `Waiting for confirm (${f.approval === 'manual' ? 'manual approval' : f.approval === 'semi' ? 'the preparation logged warnings' : 'a proof is required'})` +
        `${f.proofMissing ? ': send a proof first' : ''}; ${k.toDeliver} to deliver`;
    case 'scheduled':
      return `Scheduled: sending starts at ${f.contactDate ?? 'the contact date'}; ${k.toDeliver} to deliver`;
    case 'sending':
      if (f.retryAt && f.heldBecause && !f.pausing) return `Waiting until ${f.retryAt}: ${f.heldBecause} (${progress(k)})`;
      if (f.retryAt && !f.pausing) return `Waiting to retry ${k.pending} soft failure(s) at ${f.retryAt} (${progress(k)})`;
      if (f.heldBecause && !f.pausing) return `Waiting: ${f.heldBecause} (${progress(k)})`;
      return `${f.pausing ? 'Pausing' : 'Sending'} ${progress(k)}${f.pausing ? '' : speed(f)}`;
    case 'paused':
      return `${f.pausedBecause ? `Paused by the engine: ${f.pausedBecause}` : 'Paused'} (${progress(k)}); resume to go on`;
    case 'stopped':
      return `Stopped: ${k.sent} sent, ${k.cancelled ?? 0} cancelled`;
    case 'sent':
      return f.trackingUntil && Date.parse(f.trackingUntil) > f.now
        ? `Sent; collecting opens and clicks until ${f.trackingUntil}`
        : 'Sent';
    case 'failed':
      return `Failed: ${f.error ?? 'see the delivery log'}`;
    case 'terminated':
      if (f.reconciling) return `Terminated in Temporal (${f.error ?? 'its workflow'}): reconciling, the counts follow`;
      return `Terminated in Temporal${f.error ? ` (${f.error})` : ''}: ${k.sent} sent, ${k.cancelled ?? 0} cancelled and never sent`;
  }
}

/** Messages with an outcome (sent, failed, excluded at send) of those to deliver. */
export const done = (k: Kpis): number => k.sent + k.failed - bouncedLater(k) + k.excludedAtSend;
/** A bounce after sending counts in both sent and failed: once here. */
const bouncedLater = (k: Kpis) => k.sent - k.delivered;

function progress(k: Kpis): string {
  const d = done(k);
  return `${d} / ${k.toDeliver} (${percent(d, k.toDeliver)})`;
}

function speed(f: SituationFacts): string {
  if (!f.sendingSince) return '';
  const seconds = (f.now - f.sendingSince.at) / 1000;
  const moved = done(f.kpis) - f.sendingSince.done;
  if (seconds < 1 || moved <= 0) return '';
  const rate = moved / seconds;
  const left = Math.max(0, f.kpis.toDeliver - done(f.kpis));
  return ` at ${rate.toFixed(1)} msg/s, ETA ${duration(left / rate)}`;
}

/** "45 s", "3 min", "2 h 5 min". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

interface FactsWindow {
  days: string[];
  from: string;
  to: string;
  timeZone: string;
}

/**
 * What the delivery is: subject, audience, approval, contact date, rate cap, sending windows, daily cap (whatever
 * started it: the CLI, `temporal workflow start`).
 */
export function specFacts(spec: { subject: string; audience: object; approval: string; scheduleAt?: string; timeZone?: string; messagesPerSecond?: number; windows?: FactsWindow[]; maxPerDay?: number }): string[] {
  const where = 'where' in spec.audience ? JSON.stringify(spec.audience.where) : undefined;
  // As code: the Web UI's Markdown would curl the quotes, and the condition could not be pasted back.
  const audience = where === undefined ? 'all profiles' : `profiles where ${codeSpan(where.length > 300 ? `${where.slice(0, 300)}…` : where)}`;
  return [
    `**Subject:** ${spec.subject}`, `**Audience:** ${audience}`,
    `**Approval:** ${spec.approval}`, `**Contact date:** ${spec.scheduleAt ?? 'now'}${spec.timeZone === 'recipient' ? " (each recipient's local time)" : ''}`,
    ...(spec.messagesPerSecond ? [`**Rate cap:** ${spec.messagesPerSecond} messages/s`] : []),
    ...(spec.windows ? [`**Sending windows:** ${spec.windows.map((w) => `${w.days.join(',')} ${w.from}–${w.to} ${w.timeZone}`).join('; ')}`] : []),
    ...(spec.maxPerDay ? [`**Daily cap:** ${spec.maxPerDay} messages`] : []),
  ];
}

/** Text as a Markdown code span, fenced with more backticks than it holds in a row. */
export function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}
