// What a sending attempt reports to the workflow when it ends: the delivery's counts from the database, its failures
// by reason, and when to come back — the next soft retry, or a hold (the sending plan, a suspended provider).
import { reasonKey } from '../../domain/failures';
import type { Halt, SendingResult } from '../../domain/delivery';
import type { AttemptSetup } from './setup';

export async function attemptReport(s: AttemptSetup, halted: Halt | undefined, shapingHold: string | undefined): Promise<SendingResult> {
  const { logs, deliveryId } = s;
  const errorsByReason: Record<string, number> = {};
  for (const { reason, count } of await logs.failureReasons(deliveryId)) {
    errorsByReason[reasonKey(reason)] = (errorsByReason[reasonKey(reason)] ?? 0) + count;
  }
  const retryAt = (await logs.nextRetryAt(deliveryId))?.toISOString();
  // The plan holds every message left in scope (a soft retry due earlier waits for the window too); nothing left, no hold.
  const planHold = s.plan.holdAfter();
  const hold = planHold && (await logs.anyPending(deliveryId, s.scope)) ? planHold : retryAt && shapingHold ? { until: retryAt, because: shapingHold } : undefined;
  const nextRetryAt = hold?.until ?? retryAt;
  return {
    ...(await logs.sendingCounts(deliveryId)), errorsByReason, ...(s.spec.variants ? { variants: await logs.sendingByVariant(deliveryId) } : {}),
    ...(nextRetryAt ? { nextRetryAt } : {}), ...(halted ? { halted } : {}), ...(hold ? { held: hold.because } : {}),
  };
}
