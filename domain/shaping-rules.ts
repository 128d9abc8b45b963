// Traffic shaping rules: which replies mean "slow down" or "stop for a while" from a mailbox provider, and what the
// engine then does to that provider (engine-wide). Read top to bottom, ops' rules first; the first that matches wins.
// The built-in rules follow the providers' published replies (Google's SMTP error reference, Yahoo's TSS codes,
// Microsoft's S3150); ops add their own or turn a built-in one off (`delivery shaping rules`).
//
// A matched reply is never the recipient's failure: the message goes back to the queue, counted nowhere.

export type ShapingAction = { kind: 'slow' } | { kind: 'suspend'; forMs: number };

export interface ShapingRule {
  name: string;
  /** The reply code (421). */
  code?: number;
  /** The enhanced status code, exactly (4.7.28). */
  enhanced?: string;
  /** A regular expression over the reply (case-insensitive). */
  text?: string;
  /** Only replies about this provider (or domain). */
  provider?: string;
  action: ShapingAction;
  builtIn?: boolean;
}

const HOUR = 3600_000;

export const BUILT_IN_RULES: readonly ShapingRule[] = [
  { name: 'google-rate', enhanced: '4.7.28', action: { kind: 'slow' } },
  { name: 'google-unaligned-rate', enhanced: '4.7.32', action: { kind: 'slow' } },
  { name: 'google-try-later', text: 'try again later, closing connection', action: { kind: 'slow' } },
  { name: 'yahoo-tss04', text: '\\[TSS04\\]', action: { kind: 'suspend', forMs: 2 * HOUR } },
  { name: 'yahoo-deferred', text: '\\[TSS0[1-3]\\]|temporarily deferred due to unexpected volume', action: { kind: 'slow' } },
  { name: 'microsoft-s3150', text: '4\\.7\\.650|\\bS3150\\b', action: { kind: 'slow' } },
  { name: 'microsoft-busy', text: '4\\.7\\.500|server busy', action: { kind: 'slow' } },
].map((r) => ({ ...r, builtIn: true }) as ShapingRule);

/** How a reply is matched: only temporary replies (4xx) shape traffic; a 5xx is a verdict, not a request to wait. */
export function matchRule(rules: readonly ShapingRule[], provider: string, code: number, text: string): ShapingRule | undefined {
  if (code < 400 || code >= 500) return undefined;
  const enhanced = /\b(4\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
  return rules.find((r) =>
    (r.code === undefined || r.code === code) &&
    (r.enhanced === undefined || r.enhanced === enhanced) &&
    (r.text === undefined || new RegExp(r.text, 'i').test(text)) &&
    (r.provider === undefined || r.provider === provider));
}

/** Ops' rules first, then the built-in ones they did not turn off (an ops rule of the same name replaces one). */
export function effectiveRules(opsRules: readonly ShapingRule[], turnedOff: ReadonlySet<string>): ShapingRule[] {
  const named = new Set(opsRules.map((r) => r.name));
  return [...opsRules, ...BUILT_IN_RULES.filter((r) => !turnedOff.has(r.name) && !named.has(r.name))];
}

/** "slow down" | "suspend for 2h" */
export function describeAction(a: ShapingAction): string {
  return a.kind === 'slow' ? 'slow down' : `suspend for ${duration(a.forMs)}`;
}

export function duration(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** "2h", "90m", "30s" → ms; undefined when not a duration. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1000, m: 60_000, h: HOUR, d: 24 * HOUR }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/**
 * AIMD: a throttling reply halves the rate (once per `coolDownMs`: the replies to messages already on their way
 * count once); every `raiseEveryMs` of clean sending adds a tenth of the rate before the last halving, up to the cap
 * (or, without one, up to the rate the engine sent at before: then the provider is left alone again).
 */
export const AIMD = {
  decrease: 0.5,
  minRate: 0.2,
  coolDownMs: 1000,
  raiseEveryMs: 2000,
  stepOfPeak: 0.1,
  minStep: 0.2,
} as const;

export function slowedRate(rate: number): number {
  return Math.max(AIMD.minRate, rate * AIMD.decrease);
}

export function raisedRate(rate: number, peak: number | null, limit: number): number {
  return Math.min(limit, rate + Math.max(AIMD.minStep, (peak ?? rate) * AIMD.stepOfPeak));
}
