// Sending plans in the spec: content variants and their A/B/n test (`variants`, `abTest`). Durations as "30s", "4h", "2d".
import { z } from 'zod';
import type { AbVerdict, VariantTally } from './ab-test';
import { parseDuration } from './shaping-rules';
import { MAX_TEMPLATE_BYTES, ONE_LINE } from './spec-fields';

export const WINNER_BY = ['clicks', 'opens', 'manual'] as const;
export const IF_NO_WINNER = ['best', 'first', 'wait'] as const;

const VARIANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$/;
const MAX_DECIDE_AFTER_MS = 30 * 24 * 3600_000;

/** A variant overrides any of the delivery's subject, html, text and from; the rest is the delivery's. */
export const variantSchema = z.strictObject({
  name: z.string().regex(VARIANT_NAME, 'must be a short name: letters, digits, "_" and "-" (up to 20), such as "A" or "short-subject"'),
  subject: z.string().min(1).max(998).refine(...ONE_LINE).optional(),
  html: z.string().min(1).max(MAX_TEMPLATE_BYTES, `is larger than ${MAX_TEMPLATE_BYTES} characters`).optional(),
  text: z.string().max(MAX_TEMPLATE_BYTES, `is larger than ${MAX_TEMPLATE_BYTES} characters`).optional(),
  from: z.string().trim().min(1).refine(...ONE_LINE).optional(),
}).refine((v) => v.subject !== undefined || v.html !== undefined || v.text !== undefined || v.from !== undefined,
  'changes nothing: give it a subject, html, text or from of its own');
export type Variant = z.output<typeof variantSchema>;

export const variantsSchema = z.array(variantSchema, { error: 'must be a list of variants, e.g. [{ "name": "A", "subject": "…" }, { "name": "B", "subject": "…" }]' })
  .min(2, 'needs at least 2 variants to compare').max(8, 'takes at most 8 variants (each needs its own sample)')
  .refine((vs) => new Set(vs.map((v) => v.name.toLowerCase())).size === vs.length, 'has two variants of the same name: give each its own');

// Kept as written ("4h"): a parsed spec is stored and given to the workflow again, so what it outputs must parse.
const durationSchema = (what: string) => z.string()
  .refine((s) => parseDuration(s) !== undefined, `must be a duration such as "30s", "45m", "4h" or "2d" (${what})`)
  .refine((s) => (parseDuration(s) ?? 0) > 0 && parseDuration(s)! <= MAX_DECIDE_AFTER_MS, 'must be above 0 and at most 30 days');

export const abTestSchema = z.strictObject({
  /** The share of the target that takes part in the test, split evenly between the variants. */
  percent: z.number().gt(0, 'must be above 0').max(100, 'must be at most 100 (100: everyone is in the test, the winner is only reported)'),
  winnerBy: z.enum(WINNER_BY, { error: `must be one of ${WINNER_BY.map((w) => `"${w}"`).join(', ')}` }),
  decideAfter: durationSchema('how long after the test is sent the winner is chosen'),
  minimumPerVariant: z.number().int('must be a whole number of messages').min(1).max(10_000_000).default(500),
  ifNoWinner: z.enum(IF_NO_WINNER, {
    error: 'must be "best" (the best rate even if not significant), "first" (the first variant listed) or "wait" (for choose-winner)',
  }).default('best'),
});
export type AbTest = z.output<typeof abTestSchema>;

export const IF_PASSED = ['now', 'nextDay'] as const;
export type IfPassed = (typeof IF_PASSED)[number];

/**
 * The recipient's local time: `scheduleAt` is then a local time without offset ("2026-12-10T09:00:00"), in each
 * recipient's zone. Zone names are checked outside the workflow (validateDeliverySpec): tz data must not decide a replay.
 */
export const localTimeFields = {
  timeZone: z.literal('recipient', { error: 'must be "recipient": each recipient gets the message at scheduleAt in their own time zone' }).optional(),
  defaultTimeZone: z.string().regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, 'must be a time zone name such as "Europe/Paris" or "UTC"').default('UTC'),
  ifPassed: z.enum(IF_PASSED, { error: 'must be "now" (send at once where the time has passed) or "nextDay" (at that time the next day)' }).default('nextDay'),
};

/** The best time per recipient within the 24 h from the contact date (domain/optimal-time.ts), with a holdout at that date. */
export const optimalTimeFields = {
  sendTime: z.literal('optimal', { error: 'must be "optimal": each recipient at their best hour within the 24 h from scheduleAt' }).optional(),
  sendTimeHoldout: z.number().min(0, 'must be at least 0').max(50, 'must be at most 50 (a share of the target: 10 is 10%)').default(10),
};

/** Local time: the contact time as written, and whether it names its offset (a local time must not; an instant must). */
export function scheduleAtProblems(spec: { scheduleAt?: string; timeZone?: 'recipient' }): string[] {
  const hasOffset = (s: string) => /(Z|[+-]\d{2}:?\d{2})$/i.test(s);
  if (spec.timeZone === 'recipient') {
    if (!spec.scheduleAt) return ['scheduleAt: is required with "timeZone": "recipient": the local time to send at, e.g. "2026-12-10T09:00:00"'];
    if (hasOffset(spec.scheduleAt)) return [`scheduleAt: ${spec.scheduleAt} names a time zone, but with "timeZone": "recipient" it is each recipient's local time: write it without offset, e.g. "${spec.scheduleAt.slice(0, 19)}"`];
  } else if (spec.scheduleAt && !hasOffset(spec.scheduleAt)) {
    return [`scheduleAt: ${spec.scheduleAt} has no time zone: add one (e.g. "${spec.scheduleAt}Z"), or add "timeZone": "recipient" to send at that local time in each recipient's zone`];
  }
  return [];
}

/** How long after the test is sent the winner is chosen. */
export function decideAfterMs(t: AbTest): number {
  return parseDuration(t.decideAfter)!;
}

/** Problems of the variants and the test together (the schema checks each alone). */
export function abTestProblems(variants: Variant[] | undefined, abTest: AbTest | undefined): string[] {
  if (variants && !abTest) return ['abTest: is required with variants: { "percent": 20, "winnerBy": "clicks", "decideAfter": "4h" }'];
  if (abTest && !variants) return ['variants: are required with abTest: at least 2, e.g. [{ "name": "A", "subject": "…" }, { "name": "B", "subject": "…" }]'];
  return [];
}

/** What a delivery sends: its own content, or with variants each variant's (named). */
export function messageContents<C extends { subject: string; html: string; text?: string; from: string; variants?: Variant[] }>(spec: C): Array<{ variant?: string; content: C }> {
  return spec.variants?.map((v) => ({ variant: v.name, content: variantContent(spec, v) })) ?? [{ content: spec }];
}

/** The delivery's content with a variant's overrides. */
export function variantContent<C extends { subject: string; html: string; text?: string; from: string }>(content: C, variant: Variant): C {
  return {
    ...content,
    ...(variant.subject !== undefined ? { subject: variant.subject } : {}),
    ...(variant.html !== undefined ? { html: variant.html } : {}),
    ...(variant.text !== undefined ? { text: variant.text } : {}),
    ...(variant.from !== undefined ? { from: variant.from } : {}),
  };
}

/** Where a delivery's A/B test stands (carried across continue-as-new; shown by the status query). */
export interface AbTestState {
  /** testing: the test population is being sent; deciding: until decideAfter (or a manual choice); decided: the rest gets the winner. */
  phase: 'testing' | 'deciding' | 'decided';
  /** When the test population was sent (ISO): the decision comes decideAfter later. */
  testSentAt?: string;
  winner?: string;
  /** How the winner was chosen, in words ("significant by clicks, p = 0.003"; "chosen by ops"). */
  decision?: string;
  /** What the last judgement counted per variant. */
  tallies?: VariantTally[];
}

/**
 * The variant the rest of the target gets when the test found no winner: the spec's ifNoWinner, "best" (the best
 * rate) or "first" (the first listed) among the variants that may win; undefined for "wait" (choose-winner).
 */
export function fallbackWinner(verdict: Exclude<AbVerdict, { kind: 'winner' }>, variants: readonly string[], test: Pick<AbTest, 'ifNoWinner' | 'minimumPerVariant'>): { name: string; decision: string } | undefined {
  if (test.ifNoWinner === 'wait') return undefined;
  const barred = verdict.kind === 'no winner' ? verdict.barred : [];
  const eligible = variants.filter((n) => !barred.includes(n));
  if (eligible.length === 0) return undefined;
  const name = test.ifNoWinner === 'first' ? eligible[0] : eligible.reduce((a, b) => ((verdict.rates[b] ?? 0) > (verdict.rates[a] ?? 0) ? b : a));
  const why = verdict.kind === 'too early' ? `fewer than ${test.minimumPerVariant} delivered for ${verdict.short.join(', ')}` : 'no significant difference';
  return { name, decision: `${why}: the ${test.ifNoWinner === 'best' ? 'best rate' : 'first variant'} (ifNoWinner "${test.ifNoWinner}")` };
}

/** Where the test stands, in one line for the Web UI's current details and the CLI. */
export function abTestSummary(state: AbTestState | undefined, test: AbTest): string {
  if (!state || state.phase === 'testing') return `A/B test (${test.percent}% of the target, winner by ${test.winnerBy}): sending the test population`;
  if (state.phase === 'decided' || state.winner !== undefined) return `A/B test: variant "${state.winner}" won (${state.decision})`;
  if (test.winnerBy === 'manual' || state.tallies) return 'A/B test sent: waiting for choose-winner';
  const at = state.testSentAt ? new Date(Date.parse(state.testSentAt) + decideAfterMs(test)).toISOString() : 'later';
  return `A/B test sent: the winner is chosen at ${at}`;
}
