// How KPIs, logs and exclusions read in a terminal.
import type { Kpis, LogEntry } from '../domain/delivery';
import { kpiLines } from '../domain/kpi-table';
import type { DeliverySnapshot } from './deliveries';

export function kpiTable(k: Kpis): string {
  const links = Object.entries(k.clicksByLink ?? {}).sort((a, b) => b[1] - a[1]);
  return [
    ...kpiLines(k).map(([label, n, note]) => `  ${label.padEnd(22)}${String(n).padStart(10)}  ${note}`),
    ...(links.length ? ['  Clicks by link:', ...links.map(([url, n]) => `  ${String(n).padStart(32)}  ${printable(url)}`)] : []),
  ].join('\n');
}

export function snapshotText(s: DeliverySnapshot): string {
  const error = s.status.error ? `\n  Error: ${printable(s.status.error)}` : '';
  const paused = s.status.pausedBecause ? `\n  Paused by the engine: ${printable(s.status.pausedBecause)}` : '';
  return `Delivery ${s.id}: ${s.status.state}${error}${paused}\n${kpiTable(s.kpis)}`;
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
