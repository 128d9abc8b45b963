// What an A/B test measured of each variant, from its sending logs and tracking events (domain/ab-test.ts judges it).
import type { VariantTally } from '../domain/ab-test';
import { Prisma } from './generated/sqlite/client';
import { MACHINE_OPEN_WITHIN_MS } from '../domain/machine-opens';
import { isPostgres, type Database } from './prisma';
import type { SqlCount } from './sending-log-counts';

/**
 * An open event `t` of sending log `s` that a reader made: not by a machine (a proxy or scanner, flagged when recorded)
 * nor within MACHINE_OPEN_WITHIN_MS of the sending (both times known only here).
 */
export function readerOpen(postgres: boolean): Prisma.Sql {
  const seconds = MACHINE_OPEN_WITHIN_MS / 1000;
  return postgres
    ? Prisma.sql`NOT t."machine" AND t."at" >= s."sentAt" + make_interval(secs => ${seconds})`
    : Prisma.sql`NOT t."machine" AND julianday(t."at") >= julianday(s."sentAt") + ${seconds} / 86400.0`;
}

export function abTallies(db: Database) {
  return {
    /**
     * Per variant: delivered (sent, not bounced since), recipients with at least one event of the kind that decides
     * (a click, or a reader's open), hard bounces and complaints. Variants without a message yet count zeros.
     */
    async of(deliveryId: string, variants: string[], kind: 'click' | 'open'): Promise<VariantTally[]> {
      const human = kind !== 'open' ? Prisma.empty : Prisma.sql` AND ${readerOpen(isPostgres(db))}`;
      const rows = await db.$queryRaw<Array<{ variant: string; delivered: SqlCount; successes: SqlCount; hardBounces: SqlCount; complaints: SqlCount }>>`
        SELECT s."variant",
          SUM(CASE WHEN s."status" = 'sent' THEN 1 ELSE 0 END) AS "delivered",
          SUM(CASE WHEN EXISTS (SELECT 1 FROM "TrackingEvent" t WHERE t."sendingLogId" = s."id" AND t."kind" = ${kind}${human}) THEN 1 ELSE 0 END) AS "successes",
          SUM(CASE WHEN s."status" = 'failed' AND s."failureType" = 'hard' THEN 1 ELSE 0 END) AS "hardBounces",
          SUM(CASE WHEN s."complainedAt" IS NOT NULL THEN 1 ELSE 0 END) AS "complaints"
        FROM "SendingLog" s
        WHERE s."deliveryId" = ${deliveryId} AND s."variant" IS NOT NULL
        GROUP BY s."variant"`;
      return variants.map((name) => {
        const r = rows.find((row) => row.variant === name);
        return { name, delivered: Number(r?.delivered ?? 0), successes: Number(r?.successes ?? 0), hardBounces: Number(r?.hardBounces ?? 0), complaints: Number(r?.complaints ?? 0) };
      });
    },

    /** Distinct openers and clickers per variant (the tracking's live KPIs of a test), from who each event reached. */
    async trackingByVariant(deliveryId: string): Promise<Record<string, { opens: number; clicks: number }>> {
      const rows = await db.$queryRaw<Array<{ variant: string; kind: string; n: SqlCount }>>`
        SELECT s."variant", r."kind", COUNT(*) AS "n" FROM "TrackingReach" r JOIN "SendingLog" s ON s."id" = r."sendingLogId"
        WHERE r."deliveryId" = ${deliveryId} AND r."linkId" = 0 AND r."kind" IN ('open', 'click') AND s."variant" IS NOT NULL
        GROUP BY s."variant", r."kind"`;
      const byVariant: Record<string, { opens: number; clicks: number }> = {};
      for (const r of rows) {
        const v = (byVariant[r.variant] ??= { opens: 0, clicks: 0 });
        if (r.kind === 'open') v.opens = Number(r.n ?? 0);
        else v.clicks = Number(r.n ?? 0);
      }
      return byVariant;
    },

    /** The rest of the target gets the winner; the test population keeps its variant (nobody gets a second one). */
    async giveRestTheWinner(deliveryId: string, winner: string): Promise<number> {
      const r = await db.sendingLog.updateMany({ where: { deliveryId, variant: null, status: 'pending' }, data: { variant: winner } });
      return r.count;
    },
  };
}
