// Warm-up of a new sending domain (or IP): mailbox providers distrust volume from a sender they do not know, so a
// warm-up starts at a small daily volume per provider and grows it on a schedule (`delivery warmup start shop.example
// --from 500/day --grow 1.5x --until 500000/day`). Days are UTC days; day 0 is the day the warm-up started.

export interface WarmupPlan {
  senderDomain: string;
  fromPerDay: number;
  growth: number;
  untilPerDay: number;
  /** The first day (YYYY-MM-DD, UTC). */
  startedOn: string;
}

/** Domains outside the known providers share one allowance. */
export const OTHER_PROVIDERS = 'other';

const DAY_MS = 24 * 3600_000;

/** YYYY-MM-DD of a time, UTC. */
export function utcDay(at: Date | number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** The start of the next UTC day (ISO). */
export function nextUtcDay(at: Date | number): string {
  return new Date(Date.parse(`${utcDay(at)}T00:00:00Z`) + DAY_MS).toISOString();
}

/** Messages per provider allowed on a day: from × growth^(days since the start), up to `until`; 0 before the start. */
export function allowanceOn(plan: WarmupPlan, day: string): number {
  const index = Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${plan.startedOn}T00:00:00Z`)) / DAY_MS);
  if (index < 0) return 0;
  return Math.min(plan.untilPerDay, Math.floor(plan.fromPerDay * plan.growth ** index));
}

/** The schedule until the allowance reaches its end: [{ day, perDay }] (for `delivery warmup list`). */
export function warmupSchedule(plan: WarmupPlan, maxDays = 60): Array<{ day: string; perDay: number }> {
  const out: Array<{ day: string; perDay: number }> = [];
  for (let i = 0; i < maxDays; i++) {
    const day = utcDay(Date.parse(`${plan.startedOn}T00:00:00Z`) + i * DAY_MS);
    const perDay = allowanceOn(plan, day);
    out.push({ day, perDay });
    if (perDay >= plan.untilPerDay) break;
  }
  return out;
}

/** "500/day" → 500 (undefined when not a daily volume). */
export function parsePerDay(s: string): number | undefined {
  const m = /^(\d{1,9})\/day$/.exec(s.trim());
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

/** "1.5x" → 1.5 (undefined when not a growth factor from 1 to 10). */
export function parseGrowth(s: string): number | undefined {
  const m = /^(\d+(\.\d+)?)x$/.exec(s.trim());
  const g = m ? Number(m[1]) : NaN;
  return g >= 1 && g <= 10 ? g : undefined;
}
