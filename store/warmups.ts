// Warm-ups of sender domains and what each day's allowance per provider handed out (domain/warmup.ts). A sender takes
// a block of the day's allowance with one conditional update, so parallel senders and deliveries from one domain
// share it; what an attempt took and did not use it gives back when it ends (a crash loses at most one block: the
// warm-up sends less that day, never more).
import type { WarmupPlan } from '../domain/warmup';
import type { Database } from './prisma';
import { isPostgres } from './prisma';
import { Prisma } from './generated/sqlite/client';
import { transientTolerant, type TransientRetry } from './transient';

export function warmups(db: Database, retry?: TransientRetry) {
  const least = Prisma.raw(isPostgres(db) ? 'LEAST' : 'MIN');
  return transientTolerant({
    async of(senderDomain: string): Promise<WarmupPlan | undefined> {
      return (await db.warmup.findUnique({ where: { senderDomain } })) ?? undefined;
    },

    async list(): Promise<WarmupPlan[]> {
      return db.warmup.findMany({ orderBy: { senderDomain: 'asc' } });
    },

    async start(plan: WarmupPlan): Promise<'created' | 'replaced'> {
      const existing = await db.warmup.findUnique({ where: { senderDomain: plan.senderDomain } });
      await db.warmup.upsert({ where: { senderDomain: plan.senderDomain }, create: plan, update: plan });
      return existing ? 'replaced' : 'created';
    },

    async stop(senderDomain: string): Promise<boolean> {
      return (await db.warmup.deleteMany({ where: { senderDomain } })).count > 0;
    },

    /** Takes up to `want` of a day's allowance for a provider: what it got (0 when the day's allowance is used). */
    async take(senderDomain: string, provider: string, day: string, want: number, allowance: number): Promise<number> {
      await db.$executeRaw`INSERT INTO "WarmupUsage" ("senderDomain", "provider", "day", "used", "lastGrant") VALUES (${senderDomain}, ${provider}, ${day}, 0, 0)
        ON CONFLICT ("senderDomain", "provider", "day") DO NOTHING`;
      // Every SET expression reads the row as it was: lastGrant is what this update adds.
      const rows = await db.$queryRaw<Array<{ lastGrant: number }>>`
        UPDATE "WarmupUsage" SET "lastGrant" = ${least}(${want}, ${allowance} - "used"), "used" = "used" + ${least}(${want}, ${allowance} - "used")
        WHERE "senderDomain" = ${senderDomain} AND "provider" = ${provider} AND "day" = ${day} AND "used" < ${allowance}
        RETURNING "lastGrant"`;
      return rows.length ? Number(rows[0].lastGrant) : 0;
    },

    /** Gives back what an attempt took and did not use. */
    async giveBack(senderDomain: string, provider: string, day: string, unused: number): Promise<void> {
      if (unused <= 0) return;
      await db.warmupUsage.updateMany({ where: { senderDomain, provider, day }, data: { used: { decrement: unused } } });
    },

    async usage(senderDomain: string, day: string): Promise<Array<{ provider: string; used: number }>> {
      return db.warmupUsage.findMany({ where: { senderDomain, day }, select: { provider: true, used: true }, orderBy: { provider: 'asc' } });
    },
  }, retry);
}
