// Per-recipient sending logs as the CLI shows them, filtered.
import type { Database } from './prisma';

export interface RecipientFilter {
  status?: string;
  failureType?: string;
  /** Matches the start of the reason ("user unknown"). */
  reason?: string;
  offset?: number;
  limit?: number;
}

export async function recipientLogs(db: Database, deliveryId: string, f: RecipientFilter) {
  const where = {
    deliveryId,
    ...(f.status ? { status: f.status } : {}),
    ...(f.failureType ? { failureType: f.failureType } : {}),
    ...(f.reason ? { reason: { startsWith: f.reason } } : {}),
  };
  const [total, rows] = await Promise.all([
    db.sendingLog.count({ where }),
    db.sendingLog.findMany({
      where, orderBy: { id: 'asc' }, skip: f.offset ?? 0, take: f.limit ?? 100,
      select: { email: true, status: true, exclusionCause: true, failureType: true, reason: true, softFailures: true, sentAt: true, bouncedAt: true },
    }),
  ]);
  return { total, rows };
}
