import type { SendingProgress } from '../domain/delivery';
import { sendingLogs } from '../store/sending-logs';
import type { ActivityDeps } from './deps';

export interface StopInput {
  deliveryId: string;
}

/** Stop: every message not sent is cancelled for good (a stopped delivery cannot be resumed). */
export function stopActivity(deps: ActivityDeps) {
  return async function stopDelivery({ deliveryId }: StopInput): Promise<SendingProgress & { cancelled: number }> {
    const logs = sendingLogs(deps.db);
    const cancelled = await logs.cancelUnsent(deliveryId);
    const variants = await logs.sendingByVariant(deliveryId); // an A/B test's, final
    return { cancelled, ...(await logs.sendingCounts(deliveryId)), ...(Object.keys(variants).length ? { variants } : {}) };
  };
}

/** A delivery whose workflow was terminated in Temporal: cancelled as a stop would, with the preparation's counts read back. */
export function reconcileActivity(deps: ActivityDeps) {
  return async function reconcileDelivery({ deliveryId }: StopInput): Promise<SendingProgress & { cancelled: number; targeted: number; toExclude: number }> {
    const logs = sendingLogs(deps.db);
    const cancelled = await logs.cancelUnsent(deliveryId);
    return { cancelled, ...(await logs.preparedCounts(deliveryId)), ...(await logs.sendingCounts(deliveryId)) };
  };
}
