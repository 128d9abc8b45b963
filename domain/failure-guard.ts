// The failure-rate guard: when hard failures among a sender's last N messages cross a threshold, the
// delivery pauses itself. A bad list or a relay-side policy block then stops burning the sender's
// reputation after one window, instead of running through the whole audience.
import { percent } from './delivery';

export interface FailureGuardSettings {
  /** Share of hard failures (0–1) above which the delivery pauses. */
  maxHardFailureRate: number;
  /** How many of the latest messages are judged (each parallel sender judges its own). */
  window: number;
}

export const DEFAULT_FAILURE_GUARD: FailureGuardSettings = { maxHardFailureRate: 0.1, window: 1000 };

export interface GuardTrip {
  hard: number;
  window: number;
  threshold: number;
  /** Hard failures of the window by reason, most frequent first. */
  reasons: Array<[string, number]>;
}

export interface FailureGuard {
  /** One more message with an outcome: its hard-failure reason, or undefined. A trip once the window is over the threshold. */
  add(hardFailureReason: string | undefined): GuardTrip | undefined;
}

/** Judges full windows only: a delivery smaller than the window is never paused by it. */
export function failureGuard(settings: FailureGuardSettings | false): FailureGuard {
  if (!settings) return { add: () => undefined };
  const { window, maxHardFailureRate } = settings;
  const ring: Array<string | undefined> = new Array(window);
  const reasons = new Map<string, number>();
  let seen = 0;
  let hard = 0;
  return {
    add(reason) {
      const slot = seen % window;
      const old = ring[slot];
      if (seen >= window && old !== undefined) {
        hard--;
        reasons.set(old, reasons.get(old)! - 1);
      }
      ring[slot] = reason;
      if (reason !== undefined) {
        hard++;
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      seen++;
      if (seen < window || hard <= maxHardFailureRate * window) return undefined;
      const top = [...reasons].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      return { hard, window, threshold: maxHardFailureRate, reasons: top };
    },
  };
}

/** "hard failures reached 30.0% of the last 100 messages (threshold 10%: user unknown 30)…" */
export function describeTrip(t: GuardTrip): string {
  const top = t.reasons.slice(0, 3).map(([reason, n]) => `${reason} ${n}`).join(', ');
  return `hard failures reached ${percent(t.hard, t.window)} of the last ${t.window} messages, above the guard's ${+(t.threshold * 100).toFixed(2)}%` +
    ` (${top}): check the list and the relay's replies (delivery logs <id> --recipients --status failed), then resume or stop the delivery`;
}
