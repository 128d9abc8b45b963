// Live progress of a running activity: a heartbeat (small cursor and counts, so Temporal notices a dead
// worker and delivers cancellation) and, when the counts moved, a signal to the delivery's workflow.
import type { Context } from '@temporalio/activity';
import type { ProgressReport } from '../workflows/messages';

export type SignalProgress = (workflowId: string, report: ProgressReport) => Promise<void>;

/**
 * Signals (history events, about four each) thin out as an activity runs long: one per `everyMs` at
 * first, then one per 2% of the time elapsed, at most every 30 s. A 1M-recipient delivery (a 4-minute
 * preparation, a 30-minute send) stays near 350 signals; KPIs are then at most 30 s old.
 */
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
    const interval = Math.min(MAX_SIGNAL_INTERVAL_MS, Math.max(everyMs, (t - started) * SHARE_OF_ELAPSED));
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
