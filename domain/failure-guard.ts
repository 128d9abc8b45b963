// The failure-rate guard: when failures crowd a sender's latest messages, the delivery pauses itself. A bad list,
// a relay-side policy block or a sender that fails authentication then stops burning the sender's reputation
// after a few dozen messages, instead of running through the whole audience.
//
// Three tests, each sound on its own sample:
// - a streak: the first MIN_SAMPLE messages all failed for the same reason (a broken setup, whatever the size);
// - small samples: the Wilson score interval's lower bound of the failure rate (z = 3, so that checking after
//   every message rarely trips on an honest list) is above the threshold, from MIN_SAMPLE messages on;
// - a full window: more than the threshold of the last `window` messages failed (as before: big deliveries).
// Failures are the hard ones and refusals for the sender (authentication, reputation): an asynchronous bounce
// (DSN) of a message already judged turns one of the window's successes into a failure.
import { percent } from './delivery';
import { SENDER_REASONS } from './smtp-replies';

export interface FailureGuardSettings {
  /** Share of failures (0–1) above which the delivery pauses. */
  maxHardFailureRate: number;
  /** How many of the latest messages are judged (each parallel sender judges its own). */
  window: number;
}

export const DEFAULT_FAILURE_GUARD: FailureGuardSettings = { maxHardFailureRate: 0.1, window: 1000 };
/** Messages judged before the guard can trip: a streak of this many, or the smallest sample for the rate. */
export const MIN_SAMPLE = 20;
/** Three standard errors: the rate is above the threshold with 99.87% confidence. */
const Z = 3;

export interface GuardTrip {
  /** Failures among the messages judged. */
  hard: number;
  /** Messages judged: the window, or fewer (a small sample). */
  window: number;
  threshold: number;
  /** Which test tripped. */
  test: 'streak' | 'sample' | 'window';
  /** Failures by reason, most frequent first. */
  reasons: Array<[string, number]>;
}

export interface FailureGuard {
  /** One more message with an outcome: its failure reason, or undefined. A trip once the guard judges it so. */
  add(failureReason: string | undefined): GuardTrip | undefined;
  /** A message judged a success failed after all (a bounce): one success of the window becomes this failure. */
  amend(failureReason: string): GuardTrip | undefined;
}

export function failureGuard(settings: FailureGuardSettings | false): FailureGuard {
  if (!settings) return { add: () => undefined, amend: () => undefined };
  const { window, maxHardFailureRate } = settings;
  const ring: Array<string | undefined> = new Array(window);
  const reasons = new Map<string, number>();
  let seen = 0;
  let hard = 0;
  // The reason every message so far failed for (null: one did not).
  let streak: string | null | undefined;

  const count = (reason: string, by: number) => reasons.set(reason, (reasons.get(reason) ?? 0) + by);
  function verdict(): GuardTrip | undefined {
    const judged = Math.min(seen, window);
    const test = seen === MIN_SAMPLE && streak ? 'streak'
      : seen >= window && hard > maxHardFailureRate * window ? 'window'
        : judged >= MIN_SAMPLE && wilsonLowerBound(hard, judged, Z) > maxHardFailureRate ? 'sample' : undefined;
    if (!test) return undefined;
    const top = [...reasons].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return { hard, window: judged, threshold: maxHardFailureRate, test, reasons: top };
  }

  return {
    add(reason) {
      const slot = seen % window;
      const old = ring[slot];
      if (seen >= window && old !== undefined) {
        hard--;
        count(old, -1);
      }
      ring[slot] = reason;
      if (reason !== undefined) {
        hard++;
        count(reason, 1);
      }
      if (seen === 0) streak = reason ?? null;
      else if (streak !== reason) streak = null;
      seen++;
      return verdict();
    },
    amend(reason) {
      // The newest success still in the window (its message is the likeliest to bounce now).
      for (let i = seen - 1; i >= Math.max(0, seen - window); i--) {
        if (ring[i % window] !== undefined) continue;
        ring[i % window] = reason;
        hard++;
        count(reason, 1);
        return verdict();
      }
      return undefined;
    },
  };
}

/** The lower bound of the Wilson score interval of a proportion (failures of n), z standard errors wide. */
export function wilsonLowerBound(failures: number, n: number, z: number): number {
  if (n === 0) return 0;
  const p = failures / n;
  const z2 = z * z;
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

/** "failures reached 30.0% of the last 100 messages, above the guard's 10% (user unknown 30): …" */
export function describeTrip(t: GuardTrip): string {
  const top = t.reasons.slice(0, 3).map(([reason, n]) => `${reason} ${n}`).join(', ');
  const what = t.test === 'streak' ? `the first ${t.window} messages all failed (${top})`
    : `failures reached ${percent(t.hard, t.window)} of the last ${t.window} messages, above the guard's ${+(t.threshold * 100).toFixed(2)}% (${top})`;
  // Refusals for the sender are fixed at the sender's domain, not in the list.
  const forSender = t.reasons.length > 0 && SENDER_REASONS.has(t.reasons[0][0]);
  return forSender
    ? `${what}: the receiving servers refuse the sender; publish SPF, DKIM and DMARC for its domain (or sign at the relay) and check its reputation (delivery logs <id> --recipients --failure-type ignored), then resume or stop the delivery`
    : `${what}: check the list and the relay's replies (delivery logs <id> --recipients --status failed), then resume or stop the delivery`;
}
