// The wait before a step of the sending plan (the next wave, a local-time group): a durable timer, during which a
// pause shows at once and holds the step until resume (or its time, if later); stop ends it as any wait.
import * as wf from '@temporalio/workflow';
import { hold, log, moveTo, type DeliveryContext } from './context';

/** Waits until `at` for the step `label` ("wave 2 of 4 (150 messages)"), the timer named `summary` in the history. */
export async function waitForPlan(ctx: DeliveryContext, label: string, at: number, summary: string): Promise<void> {
  const when = new Date(at).toISOString();
  try {
    for (;;) {
      if (ctx.paused) {
        hold(ctx, undefined);
        moveTo(ctx, 'paused');
        log(ctx, 'info', `Paused: ${label} waits for resume`);
        await wf.condition(() => !ctx.paused);
        moveTo(ctx, 'sending');
      }
      if (Date.now() >= at) return;
      hold(ctx, { until: when, because: `${label} starts then` });
      await wf.condition(() => ctx.paused, at - Date.now(), { summary: `${summary} at ${when}`.slice(0, 200) });
    }
  } finally {
    hold(ctx, undefined);
  }
}
