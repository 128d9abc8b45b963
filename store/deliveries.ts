// A delivery's row, with its spec parsed back into the validated type: what the sending, proof and
// tracking code read. The spec was validated before it was stored; parsing it again here (instead of a
// cast) turns a row written by hand or by an older version into a clear error instead of an odd send.
import { parseDeliverySpec, type DeliverySpec } from '../domain/spec';
import type { Database } from './prisma';
import { retryTransient, type TransientRetry } from './transient';

export interface StoredDelivery {
  id: string;
  runKey: string;
  name: string;
  spec: DeliverySpec;
  createdAt: Date;
  preparedAt: Date | null;
  /** When the first message was handed to SMTP: the validity period of soft retries starts here. */
  sendingStartedAt: Date | null;
}

/**
 * The delivery, or undefined when it was never prepared. With `retry`, transient database errors are waited
 * out (a sending attempt); without, they throw at once (an HTTP request of the tracking server must not hang).
 */
export async function loadDelivery(db: Database, deliveryId: string, retry?: TransientRetry): Promise<StoredDelivery | undefined> {
  const find = () => db.delivery.findUnique({ where: { id: deliveryId } });
  const row = await (retry ? retryTransient(find, retry) : find());
  if (!row) return undefined;
  const parsed = parseDeliverySpec(JSON.parse(row.spec));
  if (!parsed.ok) throw new Error(`the stored spec of delivery ${deliveryId} is not valid: ${parsed.problems.join('; ')}`);
  return { ...row, spec: parsed.spec };
}

export async function loadPreparedDelivery(db: Database, deliveryId: string, retry?: TransientRetry): Promise<StoredDelivery> {
  const delivery = await loadDelivery(db, deliveryId, retry);
  if (!delivery) throw new Error(`delivery ${deliveryId} has not been prepared: nothing to send`);
  return delivery;
}

/** What the preparation stores: the parsed spec, as JSON. */
export const storedSpec = (spec: DeliverySpec): string => JSON.stringify(spec);
