// Queries on the tracking events (opens, clicks, mirror page views, unsubscriptions), kept together.
import type { Database } from './prisma';
import { transientTolerant } from './transient';
import type { TrackingTally } from '../domain/delivery';
import type { TrackingKind } from '../domain/tracking';

export interface NewTrackingEvent {
  deliveryId: string;
  sendingLogId: number;
  kind: TrackingKind;
  linkId: number;
  at: Date;
}

export function trackingEvents(db: Database) {
  return transientTolerant({
    async record(events: NewTrackingEvent[]): Promise<void> {
      if (events.length) await db.trackingEvent.createMany({ data: events });
    },

    /** Events and distinct recipients per kind and link, plus distinct clickers across links. */
    async tallies(deliveryId: string): Promise<{ tallies: TrackingTally[]; clickers: number }> {
      const rows = await db.$queryRaw<Array<{ kind: string; linkId: number | bigint; total: number | bigint; recipients: number | bigint }>>`
        SELECT "kind", "linkId", COUNT(*) AS "total", COUNT(DISTINCT "sendingLogId") AS "recipients"
        FROM "TrackingEvent" WHERE "deliveryId" = ${deliveryId} GROUP BY "kind", "linkId"`;
      const [clickers] = await db.$queryRaw<Array<{ n: number | bigint }>>`
        SELECT COUNT(DISTINCT "sendingLogId") AS "n" FROM "TrackingEvent" WHERE "deliveryId" = ${deliveryId} AND "kind" = 'click'`;
      return {
        tallies: rows.map((r) => ({ kind: r.kind, linkId: Number(r.linkId), total: Number(r.total), recipients: Number(r.recipients) })),
        clickers: Number(clickers?.n ?? 0),
      };
    },

    /** The recipient a token names, if its sending log still exists and belongs to that delivery. */
    async recipient(deliveryId: string, sendingLogId: number) {
      const row = await db.sendingLog.findUnique({ where: { id: sendingLogId }, select: { deliveryId: true, profileId: true, personalization: true } });
      return row && row.deliveryId === deliveryId ? row : undefined;
    },

    async optOut(profileId: number): Promise<void> {
      await db.profile.updateMany({ where: { id: profileId }, data: { optOut: true } });
    },
  });
}
