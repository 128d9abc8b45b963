// emailDelivery: one delivery, as a list of phases (workflows/phases.ts) sharing one context
// (workflows/context.ts); the rules of states and commands are domain/lifecycle.ts. The workflow keeps only
// counts and a bounded delivery log, so its history stays small whatever the audience size.
// Running deliveries replay this code: see "Changing the workflow" in the README before reordering anything.
import * as wf from '@temporalio/workflow';
import type { DeliveryState, Kpis } from '../domain/delivery';
import { parseDeliverySpec, type DeliverySpecInput } from '../domain/spec';
import { moveTo, newContext, type DeliveryContext, type DeliveryRunOptions } from './context';
import { installHandlers } from './handlers';
import { installAbTestHandlers, runAbTest } from './ab-test';
import { DELIVERY_STATE, statusQuery } from './messages';
import { approve, collectFeedback, failPreparation, prepare, reconcile, stop, waitForContactDate, type Activities } from './phases';
import { sendTheRest } from './waves';

export type { CarriedState, DeliveryRunOptions, Reconciliation } from './context';

export interface DeliveryResult {
  state: DeliveryState;
  kpis: Kpis;
}

export async function emailDelivery(input: DeliverySpecInput, options: DeliveryRunOptions = {}): Promise<DeliveryResult> {
  const spec = parseDeliverySpec(input); // scripts may start a delivery with any JSON (temporal workflow start)
  if (!spec.ok) return refuseSpec(spec.problems);
  const ctx = newContext(spec.spec, options);
  const acts = activities(ctx);
  installHandlers(ctx, acts.checkSpec);
  installAbTestHandlers(ctx); // always: an edit may add a test, and a delivery without one refuses choose-winner with the reason
  const outcome = (): DeliveryResult => ({ state: ctx.state, kpis: ctx.kpis });
  // An update (edit awaits an activity) still running when the delivery ends finishes first: its caller gets its answer.
  // Not cancellable: a stop that arrives as the delivery ends must not turn its end into a cancellation.
  const finished = async (): Promise<DeliveryResult> => {
    await wf.CancellationScope.nonCancellable(() => wf.condition(wf.allHandlersFinished));
    return outcome();
  };
  if (options.reconcile) {
    await reconcile(ctx, acts, options.reconcile);
    return finished();
  }
  try {
    if (!ctx.trackingUntil) {
      if (!ctx.preparation && !(await prepareApproveAndWait(ctx, acts))) {
        moveTo(ctx, 'sent'); // nothing to deliver
        return finished();
      }
      const testing = ctx.spec.abTest && ctx.abTest?.phase !== 'decided';
      if (testing) await runAbTest(ctx, acts);
      await sendTheRest(ctx, acts, testing ? `Sending variant "${ctx.abTest!.winner}" to the rest of the target` : undefined);
    }
    await collectFeedback(ctx);
    return finished();
  } catch (e) {
    if (wf.isCancellation(e)) {
      if (ctx.trackingUntil) return outcome(); // stopping a sent delivery only ends its tracking period
      await stop(ctx, acts);
      throw e;
    }
    const failure = e instanceof wf.ActivityFailure && e.cause instanceof wf.ApplicationFailure ? e.cause : undefined;
    if (failure && ctx.state === 'preparing') await failPreparation(ctx, acts, failure);
    throw e;
  }
}

/** Prepares, approves and waits for the contact date; an edit meanwhile prepares the new content. False: nothing to deliver. */
async function prepareApproveAndWait(ctx: DeliveryContext, acts: Activities): Promise<boolean> {
  for (;;) {
    const version = ctx.contentVersion;
    if (!(await prepare(ctx, acts, version))) return false;
    if ((await approve(ctx, acts, version)) === 'edited') continue;
    if ((await waitForContactDate(ctx, version)) === 'edited') continue;
    return true;
  }
}

/** A spec that does not parse fails the delivery at once, with every problem named (nothing is prepared). */
function refuseSpec(problems: string[]): never {
  const error = `Invalid delivery spec: ${problems.join('; ')}`;
  wf.setHandler(statusQuery, () => ({ state: 'failed', error }));
  wf.upsertSearchAttributes([{ key: DELIVERY_STATE, value: 'failed' }]);
  throw wf.ApplicationFailure.nonRetryable(error, 'InvalidDeliverySpec');
}

/** A dead worker is noticed within the heartbeat timeout; the retried attempt resumes from the database. */
function activities({ options }: DeliveryContext): Activities {
  const retry = { initialInterval: 1000, maximumInterval: options.retryMaxIntervalSeconds * 1000 };
  const heartbeatTimeout = options.heartbeatTimeoutSeconds * 1000;
  const { prepareDelivery } = wf.proxyActivities<Activities>({
    summary: 'Preparation: compute the target, apply typology rules, render every message',
    startToCloseTimeout: '4 hours', heartbeatTimeout, retry,
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const { sendDelivery } = wf.proxyActivities<Activities>({
    summary: 'Sending: send the due messages through SMTP (one activity per parallel sender)',
    startToCloseTimeout: '30 days', heartbeatTimeout, retry,
    // Pause and stop wait until the activity has recorded every message it handed to SMTP.
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const { stopDelivery, reconcileDelivery, sendProof, checkSpec } = wf.proxyActivities<Activities>({
    summary: 'Stop, proof or spec check', startToCloseTimeout: '10 minutes', retry,
  });
  const { judgeAbTest, giveRestTheWinner } = wf.proxyActivities<Activities>({
    summary: 'A/B test: count each variant and judge, or give the rest the winner', startToCloseTimeout: '10 minutes', retry,
  });
  const { planLocalTime } = wf.proxyActivities<Activities>({
    summary: "Local time: each recipient's contact time in their zone, grouped", startToCloseTimeout: '30 minutes', heartbeatTimeout: '5 minutes', retry,
  });
  const { planOptimalTimes } = wf.proxyActivities<Activities>({
    summary: "Best time: each recipient's best hour from their history, grouped", startToCloseTimeout: '2 hours', heartbeatTimeout: '5 minutes', retry,
  });
  return { prepareDelivery, sendDelivery, stopDelivery, reconcileDelivery, sendProof, checkSpec, judgeAbTest, giveRestTheWinner, planLocalTime, planOptimalTimes };
}
