// Live progress of a running activity: a heartbeat (small cursor and counts, so Temporal notices a dead
// worker and delivers cancellation) and, when the counts moved, a signal to the delivery's workflow.
import type { Context } from '@temporalio/activity';
import type { ProgressReport } from '../domain/lifecycle';

export type SignalProgress = (workflowId: string, report: ProgressReport) => Promise<void>;

/**
 * Signals are history events: they thin out as an activity runs long, one per 5 heartbeats (5 s) at first,
 * then one per 2% of the time elapsed, at most every 30 s. A 10-minute sending signals about 95 times (the
 * timeline stays readable, the bound is 200); a 1M-recipient delivery (a 4-minute preparation, a
 * 30-minute send) about 200; KPIs are then at most 30 s old.
 */
const HEARTBEATS_PER_SIGNAL = 5;
const SHARE_OF_ELAPSED = 0.02;
const MAX_SIGNAL_INTERVAL_MS = 30_000;

export interface ProgressTicker {
  /** Stops ticking with a last heartbeat, and a last signal when asked (and the counts moved). */
  stop(options?: { signal?: boolean }): Promise<void>;
}

export function startProgress(
  ctx: Context,
  current: () => ProgressReport & { cursor: number },
  signal: SignalProgress,
  everyMs = 1000,
): ProgressTicker {
  const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
  let lastSignalled = '';
  const started = Date.now();
  let signalledAt = 0;
  const tick = async (withSignal: boolean, now = false) => {
    const { cursor, ...report } = current();
    ctx.heartbeat({ cursor, ...report });
    const key = JSON.stringify(report);
    const t = Date.now();
    const interval = Math.min(MAX_SIGNAL_INTERVAL_MS, Math.max(everyMs * HEARTBEATS_PER_SIGNAL, (t - started) * SHARE_OF_ELAPSED));
    if (withSignal && key !== lastSignalled && (now || t - signalledAt >= interval - everyMs / 2)) {
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
