// Moments and periods as audience conditions write them: "2026-01-31", an ISO time, "now", "-30d", "12h".

const UNIT_MS: Record<string, number> = { h: 3600_000, d: 24 * 3600_000, w: 7 * 24 * 3600_000 };
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** A moment: absolute (ISO, UTC) or relative to the evaluation time ("-30d"). */
export type Moment = { iso: string } | { offsetMs: number };

/** "30d", "12h", "2w" → milliseconds, or undefined. */
export function periodMs(text: string): number | undefined {
  const m = /^(\d{1,6})([hdw])$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

/** "2026-01-31", an ISO time with its zone, "now" or a relative "-30d" / "+2w" / "-12h". */
export function parseMoment(text: string): Moment | undefined {
  if (text === 'now') return { offsetMs: 0 };
  const rel = /^([+-])(\d{1,6})([hdw])$/.exec(text);
  if (rel) return { offsetMs: (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * UNIT_MS[rel[3]] };
  if (!ISO_DATE.test(text)) return undefined;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms) || (text.length === 10 && new Date(ms).toISOString().slice(0, 10) !== text)) return undefined;
  return { iso: new Date(ms).toISOString() };
}

export function momentAt(m: Moment, now: Date): Date {
  return 'iso' in m ? new Date(m.iso) : new Date(now.getTime() + m.offsetMs);
}
