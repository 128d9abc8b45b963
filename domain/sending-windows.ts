// Sending windows (quiet hours) and the delivery's daily cap: when a delivery may send, in its own time zone. Computed
// with Luxon's IANA zones, in an activity or the CLI, never in workflow code: new tz data (a country changing its
// rules) must not change what a replay decides. DST is Luxon's: on the night the clocks go forward, 08:00 Paris is
// 06:00 UTC instead of 07:00.
import { DateTime, IANAZone } from 'luxon';

import { WEEKDAYS, type SendingWindow } from './spec';

export type WindowState = { open: true; closesAt: string } | { open: false; opensAt: string };

/** Problems needing tz data: zones that do not exist. */
export function windowProblems(windows: SendingWindow[] | undefined, field = 'windows'): string[] {
  return (windows ?? []).flatMap((w, i) => (IANAZone.isValidZone(w.timeZone) ? [] : [`${field}[${i}].timeZone: "${w.timeZone}" is not a known IANA time zone (such as "Europe/Paris")`]));
}

interface Interval {
  start: number;
  end: number;
}

/** The occurrences of one window that touch the days around `at` (a window may end the next day). */
function occurrences(w: SendingWindow, at: number, days: number): Interval[] {
  const zone = w.timeZone;
  const [fh, fm] = w.from.split(':').map(Number);
  const [th, tm] = w.to.split(':').map(Number);
  const first = DateTime.fromMillis(at, { zone }).startOf('day').minus({ days: 1 });
  const out: Interval[] = [];
  for (let d = 0; d <= days + 1; d++) {
    const day = first.plus({ days: d });
    if (!w.days.includes(WEEKDAYS[day.weekday - 1])) continue;
    const start = day.set({ hour: fh, minute: fm });
    let end = day.set({ hour: th, minute: tm });
    if (end <= start) end = end.plus({ days: 1 });
    out.push({ start: start.toMillis(), end: end.toMillis() });
  }
  return out;
}

/** Whether a delivery may send at `at`, and until when (open), or when it may next (closed). */
export function windowState(windows: SendingWindow[], at: Date): WindowState {
  const t = at.getTime();
  const all = windows.flatMap((w) => occurrences(w, t, 8)).sort((a, b) => a.start - b.start);
  const open = all.filter((i) => i.start <= t && t < i.end);
  if (open.length > 0) {
    // Windows that overlap or touch one another are one stretch of sending.
    let end = Math.max(...open.map((i) => i.end));
    for (const i of all) if (i.start <= end && i.end > end) end = i.end;
    return { open: true, closesAt: new Date(end).toISOString() };
  }
  const next = all.find((i) => i.start > t);
  if (!next) throw new Error('a sending window without a day in the week'); // the schema needs a day: unreachable
  return { open: false, opensAt: new Date(next.start).toISOString() };
}

/** The start of the day containing `at` and of the next one, in a zone (the daily cap counts from there). */
export function dayOf(at: Date, timeZone = 'UTC'): { start: string; next: string } {
  const day = DateTime.fromJSDate(at, { zone: timeZone }).startOf('day');
  return { start: day.toUTC().toISO()!, next: day.plus({ days: 1 }).toUTC().toISO()! };
}

/** "Mon 08:00 Europe/Paris" */
export function localTime(iso: string, timeZone: string): string {
  return `${DateTime.fromISO(iso, { zone: timeZone }).toFormat('ccc HH:mm')} ${timeZone}`;
}
