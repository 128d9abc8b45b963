// The best time per recipient in the sending logs: a step's messages not tried yet, their recipients' history of
// human opens and clicks in other deliveries, and the time (and class: optimal, default, holdout) each message gets.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { readerOpen } from './ab-tallies';
import { isPostgres, type Database } from './prisma';
import { IN_LIST_MAX, jsonInts } from './json-lists';
import { scopeWhere, type ClaimScope } from './sending-log-claims';

const PAGE = 5000;
/** optimal: its own best hour; default: no history, the step's start; holdout: the step's start, to measure the lift. */
export type SendTimeClass = 'optimal' | 'default' | 'holdout';

export function optimalTimes(db: Database) {
  return {
    /** The step's messages not tried yet (soft failures keep their retry time), in pages. */
    async *stepMessages(deliveryId: string, scope: ClaimScope): AsyncGenerator<Array<{ id: number; profileId: number; addressKey: string }>> {
      for (let after = 0; ;) {
        const rows = await db.sendingLog.findMany({
          where: { deliveryId, status: 'pending', softFailures: 0, id: { gt: after }, ...scopeWhere(scope) },
          orderBy: { id: 'asc' }, take: PAGE, select: { id: true, profileId: true, addressKey: true },
        });
        if (rows.length === 0) return;
        yield rows;
        after = rows[rows.length - 1].id;
        await yieldToEventLoop();
      }
    },

    /** When these profiles clicked, or opened as readers (not machines, not within seconds of the sending), elsewhere. */
    async engagements(profileIds: number[], exceptDelivery: string): Promise<Array<{ profileId: number; at: Date }>> {
      if (profileIds.length === 0) return [];
      const postgres = isPostgres(db);
      const rows = await db.$queryRaw<Array<{ profileId: number; at: Date | string }>>`
        SELECT s."profileId" AS "profileId", t."at" AS "at"
        FROM "SendingLog" s JOIN "TrackingEvent" t ON t."sendingLogId" = s."id"
        WHERE s."profileId" IN (${jsonInts(profileIds, postgres)}) AND s."deliveryId" <> ${exceptDelivery}
          AND (t."kind" = 'click' OR (t."kind" = 'open' AND ${readerOpen(postgres)}))`;
      return rows.map((r) => ({ profileId: Number(r.profileId), at: new Date(r.at) }));
    },

    /** Gives messages their time and class (the step's plan: idempotent, it may run again). */
    async assign(ids: number[], at: Date, sendTimeClass: SendTimeClass): Promise<void> {
      for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
        await db.sendingLog.updateMany({ where: { id: { in: ids.slice(i, i + IN_LIST_MAX) }, status: 'pending' }, data: { retryAt: at, sendTimeClass } });
      }
    },
  };
}
