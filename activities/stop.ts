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
    return { cancelled, ...(await logs.sendingCounts(deliveryId)) };
  };
}
