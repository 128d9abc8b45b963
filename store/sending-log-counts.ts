// Sending logs, read back: the delivery's counts, its failures by reason, its next retry, the bounces a sender's
// guard counts, and what a preparation decided.
import type { Database } from './prisma';
import { scopeWhere, type ClaimScope } from './sending-log-claims';
import { AT_SEND_CAUSES, type SendingProgress } from '../domain/delivery';

export function sendingCounts(db: Database) {
  return {
    /** The earliest retry still waiting, if any. */
    async nextRetryAt(deliveryId: string): Promise<Date | undefined> {
      const r = await db.sendingLog.aggregate({ where: { deliveryId, status: 'pending' }, _min: { retryAt: true } });
      return r._min.retryAt ?? undefined;
    },

    /** Whether any message is still to send (now or later), within the attempt's scope (a test population, a wave). */
    async anyPending(deliveryId: string, scope: ClaimScope = {}): Promise<boolean> {
      return (await db.sendingLog.findFirst({ where: { deliveryId, status: 'pending', ...scopeWhere(scope) }, select: { id: true } })) !== null;
    },

    /** Sent and delivered per variant (the sending's live KPIs of a test). */
    async sendingByVariant(deliveryId: string): Promise<Record<string, { sent: number; delivered: number }>> {
      const rows = await db.$queryRaw<Array<{ variant: string; sent: SqlCount; delivered: SqlCount }>>`
        SELECT s."variant", SUM(CASE WHEN s."sentAt" IS NOT NULL THEN 1 ELSE 0 END) AS "sent", SUM(CASE WHEN s."status" = 'sent' THEN 1 ELSE 0 END) AS "delivered"
        FROM "SendingLog" s WHERE s."deliveryId" = ${deliveryId} AND s."variant" IS NOT NULL GROUP BY s."variant" ORDER BY s."variant"`;
      return Object.fromEntries(rows.map((r) => [r.variant, { sent: Number(r.sent ?? 0), delivered: Number(r.delivered ?? 0) }]));
    },

    /** Final failures by reason (the full SMTP reply is kept per row; counting uses `reasonOf`). */
    async failureReasons(deliveryId: string): Promise<Array<{ reason: string; count: number }>> {
      const groups = await db.sendingLog.groupBy({ by: ['reason'], where: { deliveryId, status: 'failed' }, _count: { _all: true } });
      return groups.map((g) => ({ reason: g.reason ?? 'unknown', count: g._count._all }));
    },

    async sendingCounts(deliveryId: string): Promise<SendingProgress> {
      const [sent, delivered, failed, possibleDuplicates, excludedAtSend, senderRefusals, complaints] = await Promise.all([
        db.sendingLog.count({ where: { deliveryId, sentAt: { not: null } } }),
        db.sendingLog.count({ where: { deliveryId, status: 'sent' } }),
        db.sendingLog.count({ where: { deliveryId, status: 'failed' } }),
        db.sendingLog.count({ where: { deliveryId, possibleDuplicate: true } }),
        db.sendingLog.count({ where: { deliveryId, status: 'ignored', exclusionCause: { in: AT_SEND_CAUSES } } }),
        db.sendingLog.count({ where: { deliveryId, senderRefusedAt: { not: null } } }),
        db.sendingLog.count({ where: { deliveryId, complainedAt: { not: null } } }),
      ]);
      return { sent, delivered, failed, possibleDuplicates, excludedAtSend, senderRefusals, complaints };
    },

    /**
     * Messages this attempt sent that a DSN has failed since a moment (hard bounces and refusals for the sender),
     * oldest first: the sender's failure-rate guard counts them too.
     */
    async bouncedSince(deliveryId: string, claim: string, since: Date): Promise<Array<{ reason: string; bouncedAt: Date }>> {
      const rows = await db.sendingLog.findMany({
        where: { deliveryId, status: 'failed', claim, bouncedAt: { gt: since } }, select: { reason: true, bouncedAt: true }, orderBy: { bouncedAt: 'asc' }, take: 1000,
      });
      return rows.map((r) => ({ reason: r.reason ?? 'unknown', bouncedAt: r.bouncedAt! }));
    },

    /** What the preparation decided, read back from the rows (a delivery whose workflow is gone). */
    async preparedCounts(deliveryId: string): Promise<{ targeted: number; toExclude: number }> {
      const [targeted, toExclude] = await Promise.all([
        db.sendingLog.count({ where: { deliveryId } }),
        db.sendingLog.count({ where: { deliveryId, status: 'ignored', NOT: { exclusionCause: { in: AT_SEND_CAUSES } } } }),
      ]);
      return { targeted, toExclude };
    },
  };
}

/** A SUM or COUNT as the drivers give it: Postgres' is a bigint (a string through some drivers). */
export type SqlCount = number | bigint | string | null;
