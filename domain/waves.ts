// Waves (`waves` in the spec): the messages to deliver go out in slices, each on a durable timer `every` after the
// previous one was sent, so ops see the first slice's bounces and complaints before the rest goes. With an A/B test,
// the rest of the target (after the decision) is what goes in waves. Pure: sizes, the check, and how it reads.
import { z } from 'zod';
import { parseDuration } from './shaping-rules';

/** More waves would be more timers and log lines than anyone reads; the history stays small too. */
export const MAX_WAVES = 100;
const MAX_EVERY_MS = 30 * 24 * 3600_000;
const EXAMPLE = '{ "count": 4, "every": "1h" }, { "percent": [5, 15, 30, 50], "every": "1h" } or { "size": 10000, "every": "1h" }';

export const wavesSchema = z.strictObject({
  /** So many waves of (about) the same size. */
  count: z.number().int('must be a whole number of waves').min(2, 'must be at least 2 (one wave is no waves)').max(MAX_WAVES, `must be at most ${MAX_WAVES}`).optional(),
  /** Each wave's share of the messages, in order; they add up to 100. */
  percent: z.array(z.number().gt(0, 'must be above 0'), { error: 'must be a list of shares, e.g. [5, 15, 30, 50]' })
    .min(2, 'needs at least 2 waves').max(MAX_WAVES, `takes at most ${MAX_WAVES} waves`)
    .superRefine((p, ctx) => {
      const sum = p.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 100) > 1e-6) ctx.addIssue({ code: 'custom', message: `must add up to 100 (they add up to ${+sum.toFixed(6)})` });
    })
    .optional(),
  /** Waves of this many messages (the last one smaller). */
  size: z.number().int('must be a whole number of messages').min(1, 'must be at least 1').optional(),
  /** How long after a wave is sent the next one starts ("30m", "1h", "1d"). Kept as written (a parsed spec must parse again). */
  every: z.string({ error: 'is required: how long after a wave is sent the next starts, e.g. "1h"' })
    .refine((s) => parseDuration(s) !== undefined, { message: 'must be a duration such as "30s", "45m", "4h" or "2d"', abort: true })
    .refine((s) => (parseDuration(s) ?? 0) > 0 && parseDuration(s)! <= MAX_EVERY_MS, 'must be above 0 and at most 30 days'),
}).refine((w) => [w.count, w.percent, w.size].filter((x) => x !== undefined).length === 1,
  { message: `give exactly one of count, percent or size, e.g. ${EXAMPLE}` });
export type Waves = z.output<typeof wavesSchema>;

export const everyMs = (w: Waves): number => parseDuration(w.every)!;

/**
 * How many messages each wave takes out of `messages`, in order (waves that would be empty are left out). Shares are
 * rounded by largest remainder, so the sizes add up to `messages` exactly.
 */
export function waveSizes(w: Waves, messages: number): number[] {
  if (messages <= 0) return [];
  let sizes: number[];
  if (w.size !== undefined) {
    sizes = Array.from({ length: Math.ceil(messages / w.size) }, (_, i) => Math.min(w.size!, messages - i * w.size!));
  } else {
    const shares = w.percent ?? Array.from({ length: w.count! }, () => 100 / w.count!);
    const exact = shares.map((p) => (p * messages) / 100);
    sizes = exact.map(Math.floor);
    const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
    for (let left = messages - sizes.reduce((a, b) => a + b, 0), k = 0; left > 0; left--, k++) sizes[byRemainder[k].i]++;
  }
  return sizes.filter((n) => n > 0);
}

/** A preparation problem: `size` makes more waves than MAX_WAVES for this target. */
export function tooManyWaves(w: Waves, sizes: number[]): string | undefined {
  if (sizes.length <= MAX_WAVES) return undefined;
  const total = sizes.reduce((a, b) => a + b, 0);
  return `waves.size: ${w.size} makes ${sizes.length} waves for ${total} messages, at most ${MAX_WAVES}: raise it to at least ${Math.ceil(total / MAX_WAVES)}`;
}

/**
 * Adobe's "wave scheduling check": the last wave starts at least (waves − 1) × every (plus an A/B test's wait) after
 * sending starts; past the validity period its soft failures are never retried. A warning (semi approval waits).
 */
export function lastWaveWarning(w: Waves, waves: number, validitySeconds: number, decideAfterMs = 0): string | undefined {
  const lastStartsAfterMs = (waves - 1) * everyMs(w) + decideAfterMs;
  if (waves < 2 || lastStartsAfterMs < validitySeconds * 1000) return undefined;
  return `Wave scheduling: the last of ${waves} waves starts at least ${hours(lastStartsAfterMs)} after sending starts, at or past the validity period ` +
    `(${hours(validitySeconds * 1000)}): its soft failures will not be retried; send fewer waves, a shorter "every", or raise validitySeconds`;
}

/** One wave as the preparation set it: its messages, and the highest sending-log id it takes (claims go up to it). */
export interface PreparedWave {
  messages: number;
  lastId: number;
}

/** Where the waves stand (carried across continue-as-new; shown by the status query). */
export interface WavesState {
  /** The wave being sent, or waited for (1-based). */
  current: number;
  /** Per wave started: when it started and when its messages were all tried once (ISO), and the Sent KPI then. */
  times: Array<{ startedAt?: string; sentAt?: string; sentBefore?: number; sentAfter?: number }>;
}

/** A wave as the status query shows it. */
export interface WaveStatus {
  wave: number;
  messages: number;
  state: 'sent' | 'sending' | 'waiting';
  startedAt?: string;
  sentAt?: string;
  /** Messages sent while the wave ran (retries of earlier waves' soft failures included). */
  sent?: number;
  /** A waiting wave's planned start, once the one before it is sent (ISO). */
  startsAt?: string;
}

/** Each wave's state; `sentNow` is the delivery's Sent KPI (the wave being sent counts up to it). */
export function waveStatuses(prepared: PreparedWave[], state: WavesState | undefined, w: Waves, sentNow: number): WaveStatus[] {
  return prepared.map((p, i) => {
    const { startedAt, sentAt, sentBefore, sentAfter } = state?.times[i] ?? {};
    const before = state?.times[i - 1]?.sentAt;
    return {
      wave: i + 1,
      messages: p.messages,
      state: sentAt ? 'sent' : startedAt ? 'sending' : 'waiting',
      ...(startedAt ? { startedAt } : {}),
      ...(sentAt ? { sentAt } : {}),
      ...(sentBefore !== undefined ? { sent: (sentAfter ?? sentNow) - sentBefore } : {}),
      ...(!startedAt && before ? { startsAt: new Date(Date.parse(before) + everyMs(w)).toISOString() } : {}),
    };
  });
}

/** "Waves: 1 sent (50) · 2 sending (40 of 150) · 3 waiting (300)" for the Web UI's current details. */
export function wavesSummary(waves: WaveStatus[]): string {
  const one = (s: WaveStatus) => `${s.wave} ${s.state === 'waiting' && s.startsAt ? `at ${s.startsAt}` : s.state} ` +
    `(${s.state === 'sending' ? `${s.sent ?? 0} of ${s.messages}` : s.messages})`;
  return `Waves: ${waves.map(one).join(' · ')}`;
}

function hours(ms: number): string {
  const h = ms / 3600_000;
  return h >= 48 ? `${+(h / 24).toFixed(1)} days` : `${+h.toFixed(1)} h`;
}
