// The best time per recipient (`"sendTime": "optimal"`), as Braze's Intelligent Timing does it: within the 24 hours
// from a step's start, the hour at which this recipient opened or clicked most, by hour of the week (UTC), their
// counts pulled toward the audience's own pattern when they have little history (a Dirichlet prior of PRIOR_WEIGHT
// events), the step's start when they have none. Pure: the activity reads the history and writes the times.

export const HOURS_OF_WEEK = 168;
/** How many events of evidence the audience's pattern is worth against a recipient's own. */
export const PRIOR_WEIGHT = 5;
const HOUR = 3600_000;

/** Hour of the week in UTC, Monday 00:00 = 0. */
export function hourOfWeek(at: Date): number {
  return ((at.getUTCDay() + 6) % 7) * 24 + at.getUTCHours();
}

/** A recipient's history: events (human opens and clicks) per hour of the week. */
export type History = Float64Array;

export function emptyHistory(): History {
  return new Float64Array(HOURS_OF_WEEK);
}

/** The audience's pattern: the share of all its events per hour of the week (uniform when it has none). */
export function audiencePattern(histories: Iterable<History>): Float64Array {
  const sum = new Float64Array(HOURS_OF_WEEK);
  let total = 0;
  for (const h of histories) {
    for (let w = 0; w < HOURS_OF_WEEK; w++) sum[w] += h[w];
  }
  for (let w = 0; w < HOURS_OF_WEEK; w++) total += sum[w];
  return sum.map((n) => (total > 0 ? n / total : 1 / HOURS_OF_WEEK));
}

/**
 * The hour (0…23 after `start`) at which the recipient is most likely to engage: the posterior mean of their rate per
 * hour of the week, their counts plus PRIOR_WEIGHT × the audience's pattern; undefined without history (the step's
 * start, the default time). Ties go to the earliest hour.
 */
export function bestHour(history: History, pattern: Float64Array, start: Date): number | undefined {
  let events = 0;
  for (let w = 0; w < HOURS_OF_WEEK; w++) events += history[w];
  if (events === 0) return undefined;
  let best = 0;
  let bestScore = -1;
  for (let k = 0; k < 24; k++) {
    const w = hourOfWeek(new Date(start.getTime() + k * HOUR));
    const score = history[w] + PRIOR_WEIGHT * pattern[w];
    if (score > bestScore + 1e-12) {
      best = k;
      bestScore = score;
    }
  }
  return best;
}
