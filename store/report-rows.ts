// What a delivery report reads, page by page in id order: its sending logs, then its opens and clicks.
import type { Database } from './prisma';
import type { ReportEvent, ReportRecipient } from '../domain/report';

const PAGE = 20_000;

export async function* reportRecipients(db: Database, deliveryId: string): AsyncGenerator<ReportRecipient[]> {
  for (let after = 0; ;) {
    const page = await db.sendingLog.findMany({
      where: { deliveryId, id: { gt: after } }, orderBy: { id: 'asc' }, take: PAGE,
      select: { id: true, email: true, status: true, failureType: true, reason: true, sentAt: true, sendTimeClass: true },
    });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1].id;
  }
}

export async function* reportEvents(db: Database, deliveryId: string): AsyncGenerator<ReportEvent[]> {
  for (let after = 0; ;) {
    const page = await db.trackingEvent.findMany({
      where: { deliveryId, kind: { in: ['open', 'click'] }, id: { gt: after } }, orderBy: { id: 'asc' }, take: PAGE,
      select: { id: true, sendingLogId: true, kind: true, at: true },
    });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1].id;
  }
}
