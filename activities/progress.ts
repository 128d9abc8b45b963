// Live progress of a running activity: a heartbeat (small cursor and counts, so Temporal notices a dead
// worker and delivers cancellation) and, when the counts moved, a signal to the delivery's workflow.
import type { Context } from '@temporalio/activity';
import type { ProgressReport } from '../domain/lifecycle';

export type SignalProgress = (workflowId: string, report: ProgressReport) => Promise<void>;

/**
 * Signals are history events: they thin out as a phase runs long, one per 5 heartbeats (5 s) at first, then one per
 * 2% of the time elapsed, at most every 30 s. A 10-minute sending signals about 95 times (the timeline stays readable,
 * the bound is 200); a 1M-recipient delivery (a 4-minute preparation, a 30-minute send) about 200; KPIs are
 * then at most 30 s old. The time counts from the delivery's first sending attempt, and a later attempt (the next wave,
 * a local-time group, a resume) waits 5 s before its first signal: a group sent in a few seconds reports by its result
 * alone (150 zone groups would otherwise add 600 events: BENCHMARKS.md, "Sending plans").
 */
const HEARTBEATS_PER_SIGNAL = 5;
const SHARE_OF_ELAPSED = 0.02;
const MAX_SIGNAL_INTERVAL_MS = 30_000;

/** How long after the last progress signal the next may go, `elapsedMs` into the phase. */
export function signalIntervalMs(elapsedMs: number, everyMs: number): number {
  return Math.min(MAX_SIGNAL_INTERVAL_MS, Math.max(everyMs * HEARTBEATS_PER_SIGNAL, elapsedMs * SHARE_OF_ELAPSED));
}

/**
 * How long an attempt waits before its first signal: not at all in the phase's first attempt (the KPIs start moving at
 * once), one first interval (5 s) in a later one.
 */
export function firstSignalAfterMs(attemptStart: number, phaseStart: number, everyMs: number): number {
  const first = everyMs * HEARTBEATS_PER_SIGNAL;
  return attemptStart - phaseStart < first ? 0 : first;
}

export interface ProgressTicker {
  /** Stops ticking with a last heartbeat, and a last signal when asked (and the counts moved). */
  stop(options?: { signal?: boolean }): Promise<void>;
}

/** `since`: when the phase began (the delivery's first sending attempt); default: now (a preparation). */
export function startProgress(
  ctx: Context,
  current: () => ProgressReport & { cursor: number },
  signal: SignalProgress,
  everyMs = 1000,
  since?: Date,
): ProgressTicker {
  const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
  let lastSignalled = '';
  const attemptStart = Date.now();
  const started = Math.min(since?.getTime() ?? attemptStart, attemptStart);
  const quietUntil = attemptStart + firstSignalAfterMs(attemptStart, started, everyMs);
  let signalledAt = 0;
  const tick = async (withSignal: boolean, now = false) => {
    const { cursor, ...report } = current();
    ctx.heartbeat({ cursor, ...report });
    const key = JSON.stringify(report);
    const t = Date.now();
    const due = t >= quietUntil - everyMs / 2 && t - signalledAt >= signalIntervalMs(t - started, everyMs) - everyMs / 2;
    if (withSignal && key !== lastSignalled && (now || due)) {
      lastSignalled = key;
      signalledAt = t;
      await signal(workflowId, report).catch(() => undefined); // best effort: the result is authoritative
    }
  };
  const timer = setInterval(() => void tick(true), everyMs);
  void tick(false);
  return {
    async stop(options) {
      clearInterval(timer);
      await tick(options?.signal ?? false, true);
    },
  };
}
