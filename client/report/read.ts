// A delivery's report, read from the database alone: it works for a finished delivery and without Temporal.
import type { Database } from '../../store/prisma';
import { loadDelivery } from '../../store/deliveries';
import { reportEvents, reportRecipients } from '../../store/report-rows';
import { reportBuilder, type DeliveryReport } from '../../domain/report';
import { InputError } from '../errors';

export async function readReport(db: Database, deliveryId: string): Promise<DeliveryReport> {
  const delivery = await loadDelivery(db, deliveryId);
  if (!delivery) throw new InputError(`No delivery ${deliveryId} in the database: its id is the one "delivery start" printed (see "delivery list")`, 'NOT_FOUND');
  const report = reportBuilder(deliveryId, delivery.spec.name);
  for await (const page of reportRecipients(db, deliveryId)) report.addRecipients(page);
  for await (const page of reportEvents(db, deliveryId)) report.addEvents(page);
  return report.build();
}
