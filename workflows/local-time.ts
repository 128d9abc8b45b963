// A step of the sending plan (an A/B test's population, a wave, or everything) at the recipients' local time: an
// activity gives the step's messages their zone's contact time and returns the groups of zones sharing an instant;
// the workflow waits for each group on a durable timer and sends it. Without local time, the step is sent at once.
import { groupLabel } from '../domain/local-time-plan';
import { log, showDetails, type DeliveryContext } from './context';
import { sendRounds, type Activities, type RoundScope } from './phases';
import { waitForPlan } from './plan-wait';

export async function sendStep(ctx: DeliveryContext, acts: Activities, step: string, scope: RoundScope): Promise<void> {
  const optimal = ctx.spec.sendTime === 'optimal';
  if (ctx.spec.timeZone !== 'recipient' && !optimal) return sendRounds(ctx, acts, scope);
  if (ctx.localTime?.step !== step) {
    // The step's start decides which local times have passed (ifPassed), or opens the 24 h of the best times; a run
    // continued as new keeps the plan it had.
    const claims = { ...(scope.testOnly ? { testOnly: true } : {}), ...(scope.upToId !== undefined ? { upToId: scope.upToId } : {}) };
    const plan = { deliveryId: ctx.deliveryId, scope: claims, startAt: new Date().toISOString() };
    const groups = optimal
      ? await acts.planOptimalTimes({ ...plan, holdoutPercent: ctx.spec.sendTimeHoldout })
      : await acts.planLocalTime({ ...plan, scheduleAt: ctx.spec.scheduleAt!, ifPassed: ctx.spec.ifPassed });
    ctx.localTime = { step, groups, next: 0 };
    if (groups.length) log(ctx, 'info', `${optimal ? 'Best time' : 'Local time'} (${step}): ${groups.length} group(s), from ${groups[0].at} to ${groups[groups.length - 1].at}`);
    showDetails(ctx);
  }
  const plan = ctx.localTime;
  if (plan.groups.length === 0) return sendRounds(ctx, acts, scope); // nothing new in the step: its retries, if any
  for (; plan.next < plan.groups.length; plan.next++) {
    const g = plan.groups[plan.next];
    const label = groupLabel(g, plan.next, plan.groups.length);
    await waitForPlan(ctx, label, Date.parse(g.at), `${optimal ? 'Best time' : 'Local time'}: ${label} goes`);
    const lastGroup = plan.next === plan.groups.length - 1;
    const opening = plan.next === 0 && scope.opening ? `${scope.opening}, ${label}` : `Sending ${label}`;
    await sendRounds(ctx, acts, { ...scope, firstPassOnly: scope.firstPassOnly || !lastGroup, opening });
    showDetails(ctx);
  }
}
