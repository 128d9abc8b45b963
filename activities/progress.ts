// Live progress of a running activity: a heartbeat (small cursor and counts, so Temporal notices a dead
// worker and delivers cancellation) and, when the counts moved, a signal to the delivery's workflow.
import type { Context } from '@temporalio/activity';
import type { ProgressReport } from '../workflows/messages';

export type SignalProgress = (workflowId: string, report: ProgressReport) => Promise<void>;

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
  const tick = async (withSignal: boolean) => {
    const { cursor, ...report } = current();
    ctx.heartbeat({ cursor, ...report });
    const key = JSON.stringify(report);
    if (withSignal && key !== lastSignalled) {
      lastSignalled = key;
      await signal(workflowId, report).catch(() => undefined); // best effort: the result is authoritative
    }
  };
  const timer = setInterval(() => void tick(true), everyMs);
  void tick(false);
  return {
    async stop(options) {
      clearInterval(timer);
      await tick(options?.signal ?? false);
    },
  };
}
