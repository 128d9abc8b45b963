// A/B/n tests: who gets which variant (decided once, from a keyed hash of the delivery and the address), and when a
// variant has won (Fisher's exact test of the best against each other, Bonferroni-corrected: sound on any sample
// size, where Mautic picks the highest open rate with no minimum sample). Activities only: it hashes with node:crypto.
import { createHmac } from 'node:crypto';
import { jStat } from 'jstat';

/** The significance level of the whole decision (split between the comparisons). */
export const ALPHA = 0.05;

/** A row the test may take: its id and its address key. */
export interface AbCandidate {
  id: number;
  addressKey: string;
}

/**
 * The test population and its split: the `percent` of the candidates with the lowest keyed hash, dealt to the
 * variants in turn (sizes differ by one at most). The same candidates give the same answer on every run, so a
 * preparation done again (a retry, a reset) cannot move anyone to another variant. The rest get the winner.
 */
export function assignVariants(candidates: AbCandidate[], variants: readonly string[], percent: number, deliveryId: string): Map<string, number[]> {
  const ranked = candidates
    .map((c) => ({ id: c.id, rank: variantRank(deliveryId, c.addressKey) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id - b.id));
  const size = Math.round((candidates.length * percent) / 100);
  const byVariant = new Map(variants.map((v) => [v, [] as number[]]));
  ranked.slice(0, size).forEach((c, i) => byVariant.get(variants[i % variants.length])!.push(c.id));
  return byVariant;
}

/** HMAC-SHA256 keyed by the delivery: a recipient's place cannot be guessed from their address alone. */
export function variantRank(deliveryId: string, addressKey: string): string {
  return createHmac('sha256', `ab-test:${deliveryId}`).update(addressKey).digest('hex');
}

/** What the test measured of a variant (successes: unique clickers or unique human openers). */
export interface VariantTally {
  name: string;
  delivered: number;
  successes: number;
  hardBounces: number;
  complaints: number;
}

/** Above these a variant cannot win (the delivery's failure and complaint guards). */
export interface VariantGuards {
  maxHardBounceRate: number;
  maxComplaintRate: number;
}

export type AbVerdict =
  | { kind: 'winner'; name: string; pValue: number; rates: Record<string, number> }
  /** Some variant has not reached `minimumPerVariant` delivered messages. */
  | { kind: 'too early'; short: string[]; rates: Record<string, number> }
  /** Enough messages, no significant difference (or no variant may win). */
  | { kind: 'no winner'; best?: string; pValue?: number; rates: Record<string, number>; barred: string[] };

/**
 * The best variant wins when it beats every other one eligible with p < ALPHA / (eligible − 1) (two-sided
 * Fisher's exact test on delivered × success). A variant whose bounce or complaint rate is above its guard
 * cannot win, but the others are still compared with it.
 */
export function abVerdict(tallies: VariantTally[], minimumPerVariant: number, guards: VariantGuards): AbVerdict {
  const rates = Object.fromEntries(tallies.map((t) => [t.name, t.delivered ? t.successes / t.delivered : 0]));
  const short = tallies.filter((t) => t.delivered < minimumPerVariant).map((t) => t.name);
  if (short.length) return { kind: 'too early', short, rates };
  const barred = tallies.filter((t) => t.hardBounces > guards.maxHardBounceRate * t.delivered || t.complaints > guards.maxComplaintRate * t.delivered).map((t) => t.name);
  const contenders = tallies.filter((t) => !barred.includes(t.name));
  if (contenders.length === 0) return { kind: 'no winner', rates, barred };
  // Highest rate; a tie goes to the variant listed first.
  const best = contenders.reduce((a, b) => (rates[b.name] > rates[a.name] ? b : a));
  const others = tallies.filter((t) => t !== best);
  const pValue = Math.max(...others.map((o) => fisherExact(best.successes, best.delivered - best.successes, o.successes, o.delivered - o.successes)));
  const beatsAll = others.every((o) => rates[best.name] > rates[o.name]) && pValue < ALPHA / others.length;
  return beatsAll ? { kind: 'winner', name: best.name, pValue, rates } : { kind: 'no winner', best: best.name, pValue, rates, barred };
}

/**
 * Two-sided p-value of Fisher's exact test on the 2×2 table [[a, b], [c, d]]: the probability, under equal
 * rates, of every table with the same margins no more likely than this one. Log-probabilities (ln Γ) keep
 * tables of a million messages exact enough; one pass over the possible tables.
 */
export function fisherExact(a: number, b: number, c: number, d: number): number {
  const row1 = a + b;
  const col1 = a + c;
  const n = a + b + c + d;
  if (n === 0) return 1;
  const logChoose = (k: number, r: number) => jStat.gammaln(k + 1) - jStat.gammaln(r + 1) - jStat.gammaln(k - r + 1);
  const logDenominator = logChoose(n, col1);
  const logP = (x: number) => logChoose(row1, x) + logChoose(n - row1, col1 - x) - logDenominator;
  const observed = logP(a);
  let p = 0;
  for (let x = Math.max(0, col1 - (n - row1)); x <= Math.min(row1, col1); x++) {
    const lp = logP(x);
    // A relative tolerance: tables as likely as the observed one, up to rounding, count.
    if (lp <= observed + 1e-7) p += Math.exp(lp);
  }
  return Math.min(1, p);
}
