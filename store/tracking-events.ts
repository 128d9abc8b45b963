// Queries on the tracking events (opens, clicks, mirror page views, unsubscriptions), kept together.
// Each write of events keeps the delivery's tallies (TrackingTally) in the same transaction, so the KPIs
// read a few rows however many events a delivery has; TrackingReach remembers which recipients already
// count, for the distinct ones.
import { Prisma } from './generated/sqlite/client';
import { isPostgres, type Database } from './prisma';
import { jsonTable } from './json-lists';
import { transientTolerant } from './transient';
import { optOuts } from './opt-outs';
import { lists } from './lists';
import type { TrackingTally } from '../domain/delivery';
import type { TrackingKind } from '../domain/tracking';

export interface NewTrackingEvent {
  deliveryId: string;
  sendingLogId: number;
  kind: TrackingKind;
  linkId: number;
  at: Date;
  /** An open fetched by a machine (domain/machine-opens.ts): counted, left out of an A/B test decided by opens. */
  machine?: boolean;
}

/** The tally row of distinct clickers across links: (click, 0), link ids start at 1. */
const CLICKERS_LINK = 0;

export function trackingEvents(db: Database) {
  const postgres = isPostgres(db);
  return transientTolerant({
    /**
     * Records events and moves the tallies, all or nothing (one batch transaction: a failed write changes
     * nothing and is retried whole).
     */
    async record(events: NewTrackingEvent[]): Promise<void> {
      if (events.length === 0) return;
      // Dates as Prisma stores them on SQLite (ISO text, +00:00), so they compare as text like the others.
      const rows = events.map((e) => [e.deliveryId, e.sendingLogId, e.kind, e.linkId, e.at.toISOString().replace('Z', '+00:00'), e.machine === true]);
      const reach = new Map<string, unknown[]>();
      for (const e of events) {
        reach.set(`${e.deliveryId}|${e.kind}|${e.linkId}|${e.sendingLogId}`, [e.deliveryId, e.kind, e.linkId, e.sendingLogId]);
        if (e.kind === 'click') reach.set(`${e.deliveryId}|click|${CLICKERS_LINK}|${e.sendingLogId}`, [e.deliveryId, 'click', CLICKERS_LINK, e.sendingLogId]);
      }
      const eventTable = () => jsonTable({ deliveryId: 'text', sendingLogId: 'int', kind: 'text', linkId: 'int', at: 'text', machine: 'bool' }, rows, postgres);
      const reachTable = () => jsonTable({ deliveryId: 'text', kind: 'text', linkId: 'int', sendingLogId: 'int' }, [...reach.values()], postgres);
      const at = postgres ? Prisma.sql`"at"::timestamptz AT TIME ZONE 'UTC'` : Prisma.sql`"at"`;
      await db.$transaction([
        db.$executeRaw`
          INSERT INTO "TrackingEvent" ("deliveryId", "sendingLogId", "kind", "linkId", "at", "machine")
          SELECT "deliveryId", "sendingLogId", "kind", "linkId", ${at}, "machine" FROM ${eventTable()}`,
        db.$executeRaw`
          INSERT INTO "TrackingTally" ("deliveryId", "kind", "linkId", "total", "recipients")
          SELECT "deliveryId", "kind", "linkId", COUNT(*), 0 FROM ${eventTable()} WHERE true GROUP BY "deliveryId", "kind", "linkId"
          ON CONFLICT ("deliveryId", "kind", "linkId") DO UPDATE SET "total" = "TrackingTally"."total" + excluded."total"`,
        postgres
          // Concurrent writers (several tracking servers): only the rows this statement inserted count.
          ? db.$executeRaw`
            WITH "new" AS (
              INSERT INTO "TrackingReach" ("deliveryId", "kind", "linkId", "sendingLogId")
              SELECT "deliveryId", "kind", "linkId", "sendingLogId" FROM ${reachTable()}
              ON CONFLICT DO NOTHING RETURNING "deliveryId", "kind", "linkId")
            INSERT INTO "TrackingTally" ("deliveryId", "kind", "linkId", "total", "recipients")
            SELECT "deliveryId", "kind", "linkId", 0, COUNT(*) FROM "new" GROUP BY "deliveryId", "kind", "linkId"
            ON CONFLICT ("deliveryId", "kind", "linkId") DO UPDATE SET "recipients" = "TrackingTally"."recipients" + excluded."recipients"`
          // SQLite has one writer: the recipients not reached yet are counted, then remembered.
          : db.$executeRaw`
            INSERT INTO "TrackingTally" ("deliveryId", "kind", "linkId", "total", "recipients")
            SELECT "deliveryId", "kind", "linkId", 0, COUNT(*) FROM ${reachTable()}
            WHERE NOT EXISTS (SELECT 1 FROM "TrackingReach" "t" WHERE "t"."deliveryId" = "r"."deliveryId" AND "t"."kind" = "r"."kind"
              AND "t"."linkId" = "r"."linkId" AND "t"."sendingLogId" = "r"."sendingLogId")
            GROUP BY "deliveryId", "kind", "linkId"
            ON CONFLICT ("deliveryId", "kind", "linkId") DO UPDATE SET "recipients" = "TrackingTally"."recipients" + excluded."recipients"`,
        ...(postgres ? [] : [db.$executeRaw`
          INSERT INTO "TrackingReach" ("deliveryId", "kind", "linkId", "sendingLogId")
          SELECT "deliveryId", "kind", "linkId", "sendingLogId" FROM ${reachTable()} WHERE true ON CONFLICT DO NOTHING`]),
      ]);
    },

    /** Events and distinct recipients per kind and link, plus distinct clickers across links. */
    async tallies(deliveryId: string): Promise<{ tallies: TrackingTally[]; clickers: number }> {
      // In link order, so clicksByLink reads the same on every database.
      const rows = await db.trackingTally.findMany({ where: { deliveryId }, orderBy: [{ kind: 'asc' }, { linkId: 'asc' }] });
      const isClickers = (r: { kind: string; linkId: number }) => r.kind === 'click' && r.linkId === CLICKERS_LINK;
      return {
        tallies: rows.filter((r) => !isClickers(r)).map((r) => ({ kind: r.kind, linkId: r.linkId, total: r.total, recipients: r.recipients })),
        clickers: rows.find(isClickers)?.recipients ?? 0,
      };
    },

    /** The recipient a token names, if its sending log still exists and belongs to that delivery. */
    async recipient(deliveryId: string, sendingLogId: number) {
      const row = await db.sendingLog.findUnique({ where: { id: sendingLogId }, select: { deliveryId: true, profileId: true, email: true, personalization: true, variant: true } });
      return row && row.deliveryId === deliveryId ? row : undefined;
    },

    /**
     * An unsubscription opts out the address, for every profile that has it (and flags the profile); a delivery
     * sent with `unsubscribeFrom: { list }` unsubscribes it from that list only. Returns the list left, if any.
     */
    async optOut(recipient: { profileId: number; email: string }, deliveryId: string, fromList?: string): Promise<string | undefined> {
      const listId = fromList === undefined ? undefined : await lists(db).idOf(fromList);
      if (listId !== undefined) {
        await lists(db).setStatus(listId, [recipient.email], 'unsubscribed', 'unsubscribe link', deliveryId);
        return fromList;
      }
      // No list, or a list deleted since: the request is honoured in full.
      await optOuts(db).add([recipient.email], 'unsubscribe link', deliveryId);
      await db.profile.updateMany({ where: { id: recipient.profileId }, data: { optOut: true } });
      return undefined;
    },
  });
}
