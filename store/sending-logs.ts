// Queries on the sending logs (one row per targeted recipient), kept together.
// Statuses: pending → sending (claimed by a send attempt) → sent | failed; ignored (excluded); cancelled.
import type { Database } from './prisma';
import type { ExclusionCounts, ExclusionCause } from '../domain/delivery';

export type SendingStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'ignored' | 'cancelled';

export interface NewSendingLog {
  deliveryId: string;
  profileId: number;
  email: string;
  status: 'pending' | 'ignored';
  exclusionCause?: ExclusionCause;
  personalization: string;
}

export interface ClaimedMessage {
  id: number;
  email: string;
  personalization: string;
  sendAttempts: number;
}

export type MessageOutcome =
  | { id: number; status: 'sent'; messageId: string }
  | { id: number; status: 'failed'; failureType: 'hard' | 'soft' | 'ignored'; reason: string };

export function sendingLogs(db: Database) {
  return {
    /** Highest profile id already targeted: preparation resumes after it. */
    async preparationCursor(deliveryId: string): Promise<number> {
      const r = await db.sendingLog.aggregate({ where: { deliveryId }, _max: { profileId: true } });
      return r._max.profileId ?? 0;
    },

    async targetedAddresses(deliveryId: string): Promise<string[]> {
      const rows = await db.sendingLog.findMany({ where: { deliveryId, status: { not: 'ignored' } }, select: { email: true } });
      return rows.map((r) => r.email);
    },

    async insert(rows: NewSendingLog[]): Promise<void> {
      if (rows.length) await db.sendingLog.createMany({ data: rows });
    },

    async exclusionCounts(deliveryId: string): Promise<{ toDeliver: number; exclusions: ExclusionCounts }> {
      const groups = await db.sendingLog.groupBy({ by: ['status', 'exclusionCause'], where: { deliveryId }, _count: { _all: true } });
      const exclusions: ExclusionCounts = {};
      let toDeliver = 0;
      for (const g of groups) {
        if (g.status === 'ignored') exclusions[g.exclusionCause as ExclusionCause] = g._count._all;
        else toDeliver += g._count._all;
      }
      return { toDeliver, exclusions };
    },

    async forget(deliveryId: string): Promise<void> {
      await db.sendingLog.deleteMany({ where: { deliveryId } });
    },

    /**
     * Rows left in `sending` were in flight when a worker died: put them back in the queue.
     * They keep their sendAttempts, so a resend shows as a possible duplicate.
     */
    async requeueInFlight(deliveryId: string): Promise<number> {
      const r = await db.sendingLog.updateMany({ where: { deliveryId, status: 'sending' }, data: { status: 'pending', claim: null } });
      return r.count;
    },

    /** Claims up to `limit` pending rows for one send attempt (status → sending before any SMTP traffic). */
    async claim(deliveryId: string, claim: string, limit: number): Promise<ClaimedMessage[]> {
      const ids = await db.sendingLog.findMany({
        where: { deliveryId, status: 'pending' }, orderBy: { id: 'asc' }, take: limit, select: { id: true },
      });
      if (ids.length === 0) return [];
      await db.sendingLog.updateMany({
        where: { id: { in: ids.map((r) => r.id) }, status: 'pending' },
        data: { status: 'sending', claim, sendAttempts: { increment: 1 } },
      });
      return db.sendingLog.findMany({
        where: { deliveryId, claim, status: 'sending' }, orderBy: { id: 'asc' },
        select: { id: true, email: true, personalization: true, sendAttempts: true },
      });
    },

    /** Gives back claimed rows that were not handed to SMTP (pause, stop, SMTP outage). */
    async release(ids: number[]): Promise<void> {
      if (ids.length) {
        await db.sendingLog.updateMany({
          where: { id: { in: ids }, status: 'sending' },
          data: { status: 'pending', claim: null, sendAttempts: { decrement: 1 } },
        });
      }
    },

    async record(outcomes: MessageOutcome[]): Promise<void> {
      if (outcomes.length === 0) return;
      const now = new Date();
      const sent = outcomes.filter((o) => o.status === 'sent');
      const failed = outcomes.filter((o) => o.status === 'failed');
      await db.$transaction([
        ...sent.map((o) => db.sendingLog.update({ where: { id: o.id }, data: { status: 'sent', messageId: o.messageId, claim: null, sentAt: now } })),
        ...failed.map((o) => db.sendingLog.update({
          where: { id: o.id }, data: { status: 'failed', failureType: o.failureType, reason: o.reason, claim: null },
        })),
      ]);
    },

    async sendingCounts(deliveryId: string): Promise<{ sent: number; failed: number; resentAfterCrash: number }> {
      const [sent, failed, resentAfterCrash] = await Promise.all([
        db.sendingLog.count({ where: { deliveryId, status: 'sent' } }),
        db.sendingLog.count({ where: { deliveryId, status: 'failed' } }),
        db.sendingLog.count({ where: { deliveryId, sendAttempts: { gt: 1 } } }),
      ]);
      return { sent, failed, resentAfterCrash };
    },

    /** A stopped delivery: whatever was not sent is cancelled and will never be. */
    async cancelUnsent(deliveryId: string): Promise<number> {
      const r = await db.sendingLog.updateMany({
        where: { deliveryId, status: { in: ['pending', 'sending'] } }, data: { status: 'cancelled', claim: null },
      });
      return r.count;
    },
  };
}

export type SendingLogs = ReturnType<typeof sendingLogs>;
