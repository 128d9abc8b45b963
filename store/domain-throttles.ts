// Engine-wide caps per recipient domain (`delivery domains`): one row a domain, shared by every delivery and every
// worker process. A sender reserves a block of slots with one atomic update of the row, so two deliveries (or two
// workers) sending to gmail.com at once share its cap instead of each taking all of it.
import { Prisma } from './generated/sqlite/client';
import { isPostgres, type Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';

export interface DomainThrottleRow {
  domain: string;
  messagesPerSecond: number;
  updatedAt: Date;
}

/** A block of slots: `count` message starts, the first at `startsAt` (ms since the epoch), then one every `intervalMs`. */
export interface SlotBlock {
  startsAt: number;
  intervalMs: number;
  count: number;
}

export function domainThrottles(db: Database, retry?: TransientRetry) {
  return transientTolerant({
    /** The capped domains and their rates. */
    async caps(): Promise<Map<string, number>> {
      const rows = await db.domainThrottle.findMany({ select: { domain: true, messagesPerSecond: true } });
      return new Map(rows.map((r) => [r.domain, r.messagesPerSecond]));
    },

    async list(): Promise<DomainThrottleRow[]> {
      return db.domainThrottle.findMany({ orderBy: { domain: 'asc' }, select: { domain: true, messagesPerSecond: true, updatedAt: true } });
    },

    /** Sets a domain's cap (a new rate applies to the next blocks the senders reserve, within seconds). */
    async set(domain: string, messagesPerSecond: number): Promise<'created' | 'updated'> {
      const existing = await db.domainThrottle.findUnique({ where: { domain } });
      await db.domainThrottle.upsert({
        where: { domain }, create: { domain, messagesPerSecond }, update: { messagesPerSecond, updatedAt: new Date() },
      });
      return existing ? 'updated' : 'created';
    },

    async remove(domain: string): Promise<boolean> {
      return (await db.domainThrottle.deleteMany({ where: { domain } })).count > 0;
    },

    /**
     * Reserves the next `count` slots of a domain: after the last slot anyone reserved, or from now when the domain
     * was idle (no catching up). Undefined when the domain is no longer capped.
     */
    async reserve(domain: string, count: number, now = Date.now()): Promise<SlotBlock | undefined> {
      const greatest = Prisma.raw(isPostgres(db) ? 'GREATEST' : 'MAX'); // the larger of two values, in each dialect
      const rows = await db.$queryRaw<Array<{ nextAt: number; messagesPerSecond: number }>>`
        UPDATE "DomainThrottle" SET "nextAt" = ${greatest}("nextAt", ${now}) + ${count} * 1000.0 / "messagesPerSecond"
        WHERE "domain" = ${domain} RETURNING "nextAt", "messagesPerSecond"`;
      if (rows.length === 0) return undefined;
      const intervalMs = 1000 / Number(rows[0].messagesPerSecond);
      return { startsAt: Number(rows[0].nextAt) - count * intervalMs, intervalMs, count };
    },
  }, retry);
}
