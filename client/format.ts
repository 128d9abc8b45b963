// How KPIs, logs and exclusions read in a terminal.
import type { Kpis, LogEntry } from '../domain/delivery';
import { kpiLines } from '../domain/kpi-table';
import type { DeliverySnapshot } from './deliveries';
import type { DeliveryRow } from './delivery-list';

export function kpiTable(k: Kpis): string {
  const links = Object.entries(k.clicksByLink ?? {}).sort((a, b) => b[1] - a[1]);
  return [
    ...kpiLines(k).map(([label, n, note]) => `  ${label.padEnd(22)}${String(n).padStart(10)}  ${note}`),
    ...(links.length ? ['  Clicks by link:', ...links.map(([url, n]) => `  ${String(n).padStart(32)}  ${printable(url)}`)] : []),
  ].join('\n');
}

export function snapshotText(s: DeliverySnapshot): string {
  // The situation says the error and the engine's pause cause already (a delivery from an older worker may lack it).
  const error = s.status.error && !s.status.situation ? `\n  Error: ${printable(s.status.error)}` : '';
  const paused = s.status.pausedBecause && !s.status.situation ? `\n  Paused by the engine: ${printable(s.status.pausedBecause)}` : '';
  const situation = s.status.situation ? `\n  ${printable(s.status.situation)}` : '';
  const command = s.status.lastCommand ? `\n  Last command: ${printable(s.status.lastCommand.message)} (${s.status.lastCommand.at})` : '';
  return `Delivery ${s.id}: ${s.status.state}${situation}${command}${error}${paused}\n${kpiTable(s.kpis)}${abTestText(s)}${wavesText(s)}${localTimeText(s)}`;
}

/** With the recipient's local or best time: a row per group of the current step. */
function localTimeText(s: DeliverySnapshot): string {
  const plan = s.status.localTime;
  if (!plan?.groups.length) return '';
  const rows = plan.groups.map((g) => [String(g.group), g.at, g.offsets.map((o) => `UTC${o}`).join(' '), String(g.zones), String(g.messages), g.state]);
  return `\n\n${plan.groups.some((g) => g.zones > 0) ? 'Local time' : 'Best time'} (${printable(plan.step)}):\n${table(['group', 'at', 'offsets', 'zones', 'messages', 'state'], rows)}`;
}

/** With waves: a row per wave. */
function wavesText(s: DeliverySnapshot): string {
  const waves = s.status.waves;
  if (!waves?.length) return '';
  const rows = waves.map((w) => [String(w.wave), String(w.messages), w.state, w.sent === undefined ? '' : String(w.sent), w.startedAt ?? w.startsAt ?? '', w.sentAt ?? '']);
  return `\n\n${table(['wave', 'messages', 'state', 'sent', 'starts', 'done'], rows)}`;
}

/** With an A/B test: where it stands, and a row per variant. */
function abTestText(s: DeliverySnapshot): string {
  const ab = s.status.abTest;
  const variants = Object.entries(s.kpis.variants ?? {});
  if (!ab && variants.length === 0) return '';
  const head = ab?.winner !== undefined ? `A/B test: variant "${ab.winner}" won (${ab.decision})`
    : ab?.phase === 'deciding' ? 'A/B test sent: deciding' : 'A/B test: sending the test population';
  const rows = variants.map(([name, v]) => [name, String(v.sent), String(v.delivered), `${v.opens} (${v.openRate.toFixed(1)}%)`, `${v.clicks} (${v.clickRate.toFixed(1)}%)`]);
  return `\n\n${printable(head)}\n${table(['variant', 'sent', 'delivered', 'opens', 'clicks'], rows)}`;
}

export function logLines(entries: LogEntry[]): string {
  return entries.map((e) => `${e.time}  ${e.level.toUpperCase().padEnd(7)} ${printable(e.message)}`).join('\n');
}

/**
 * Text from outside (SMTP replies, DSN diagnostics, profile data) as a terminal should show it: control
 * characters (ESC sequences could recolour, move the cursor or rewrite the screen) are written as \xNN.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1F\x7F-\x9F]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A plain text table: a header row and aligned columns, every cell made printable. */
export function table(header: string[], data: string[][]): string {
  const rows = data.map((r) => r.map((c) => printable(c ?? '')));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `delivery list`: one line per delivery; counts the kpis query could not give read "?". */
export function deliveryTable(rows: DeliveryRow[]): string {
  const n = (v: number | undefined) => (v === undefined ? '?' : String(v));
  const rate = (v: number | undefined) => (v === undefined ? '?' : `${v.toFixed(1)}%`);
  if (rows.length === 0) return 'No delivery found.';
  return table(['Name', 'Id', 'State', 'Contact date', 'Targeted', 'Sent', 'Errors', 'Opens', 'Clicks'], rows.map((r) => [
    r.name, r.id, r.pausedBy ? `paused by ${r.pausedBy}` : r.state, r.contactDate?.slice(0, 16).replace('T', ' ') ?? '', n(r.targeted), String(r.sent), String(r.errors), rate(r.openRate), rate(r.clickRate),
  ]));
}
