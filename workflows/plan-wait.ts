// The wait before a step of the sending plan (the next wave, a local-time group, an A/B test's decision): a durable
// timer, during which a pause shows at once and holds the step until resume (or its time, if later); stop ends it as
// any wait.
import * as wf from '@temporalio/workflow';
import { hold, log, moveTo, type DeliveryContext } from './context';

export interface PlanWaitOptions {
  /** What the situation says meanwhile (default: "<label> starts then"). */
  because?: string;
  /** Ends the wait early (ops chose an A/B test's winner). */
  done?: () => boolean;
}

/**
 * Waits until `at` for the step `label` ("wave 2 of 4 (150 messages)"), the timer named `summary` in the history.
 * True when `done` ended it first; it may then still be paused (what follows waits for resume by itself).
 */
export async function waitForPlan(ctx: DeliveryContext, label: string, at: number, summary: string, options: PlanWaitOptions = {}): Promise<boolean> {
  const when = new Date(at).toISOString();
  const done = options.done ?? (() => false);
  try {
    for (;;) {
      if (done()) return true;
      if (ctx.paused) {
        hold(ctx, undefined);
        moveTo(ctx, 'paused');
        log(ctx, 'info', `Paused: ${label} waits for resume`);
        await wf.condition(() => !ctx.paused || done());
        if (ctx.paused) return true;
        moveTo(ctx, 'sending');
      }
      if (Date.now() >= at) return false;
      hold(ctx, { until: when, because: options.because ?? `${label} starts then` });
      await wf.condition(() => ctx.paused || done(), at - Date.now(), { summary: `${summary} at ${when}`.slice(0, 200) });
    }
  } finally {
    hold(ctx, undefined);
  }
}
