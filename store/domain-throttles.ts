// Engine-wide rates per recipient domain or mailbox provider (`delivery domains`, traffic shaping): one row a key,
// shared by every delivery and every worker process. A sender reserves a block of slots with one atomic update of
// the row, so two deliveries (or two workers) sending to Google at once share its rate instead of each taking all of
// it. Shaping moves the rate with conditional updates (domain/shaping-rules.ts AIMD): of all the senders that see a
// throttling reply within the cool-down, one halves the rate; of all that send cleanly for a step, one raises it.
import { Prisma } from './generated/sqlite/client';
import { isPostgres, type Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';
import { AIMD } from '../domain/shaping-rules';

export interface DomainThrottleRow {
  domain: string;
  messagesPerSecond: number;
  cap: number | null;
  ceiling: number | null;
  suspendedUntil: number;
  slowedAt: number;
  lastReply: string | null;
  cause: string | null;
  updatedAt: Date;
}

/** What a sender needs of a key: its rate now, and until when it is suspended (ms since the epoch). */
export interface ThrottleState {
  rate: number;
  suspendedUntil: number;
}

/** A block of slots: `count` message starts, the first at `startsAt` (ms since the epoch), then one every `intervalMs`. */
export interface SlotBlock {
  startsAt: number;
  intervalMs: number;
  count: number;
  /** The key's rate when the block was reserved (shaping may have moved it). */
  rate: number;
}

/** A provider's reply that shaped its traffic. */
export interface ShapingEvent {
  /** The rate the engine sent at, as the sender that got the reply saw it (a row created by shaping starts from it). */
  observedRate: number;
  reply: string;
  /** "slow down (google-rate)" */
  cause: string;
  now?: number;
}

export type ShapingChange = { change: 'slowed' | 'suspended' | 'unchanged'; rate: number; suspendedUntil: number };

export function domainThrottles(db: Database, retry?: TransientRetry) {
  const pg = isPostgres(db);
  const greatest = Prisma.raw(pg ? 'GREATEST' : 'MAX'); // the larger of two values, in each dialect
  const least = Prisma.raw(pg ? 'LEAST' : 'MIN');
  /** A row for a key shaping found uncapped: it starts from the rate the engine was sending at. */
  const createShaped = (key: string, rate: number, ceiling: number, suspendedUntil: number, e: ShapingEvent, now: number) => db.$executeRaw`
    INSERT INTO "DomainThrottle" ("domain", "messagesPerSecond", "ceiling", "peak", "slowedAt", "suspendedUntil", "lastReply", "cause", "updatedAt")
    VALUES (${key}, ${rate}, ${ceiling}, ${ceiling}, ${now}, ${suspendedUntil}, ${e.reply}, ${e.cause}, ${new Date(now)})
    ON CONFLICT ("domain") DO NOTHING`;
  const stateOf = async (key: string): Promise<ShapingChange> => {
    const row = await db.domainThrottle.findUnique({ where: { domain: key } });
    return { change: 'unchanged', rate: row?.messagesPerSecond ?? 0, suspendedUntil: row?.suspendedUntil ?? 0 };
  };

  return transientTolerant({
    /** The keys with a rate (capped or shaped) and their state. */
    async caps(): Promise<Map<string, ThrottleState>> {
      const rows = await db.domainThrottle.findMany({ select: { domain: true, messagesPerSecond: true, suspendedUntil: true } });
      return new Map(rows.map((r) => [r.domain, { rate: r.messagesPerSecond, suspendedUntil: r.suspendedUntil }]));
    },

    async list(): Promise<DomainThrottleRow[]> {
      return db.domainThrottle.findMany({
        orderBy: { domain: 'asc' },
        select: { domain: true, messagesPerSecond: true, cap: true, ceiling: true, suspendedUntil: true, slowedAt: true, lastReply: true, cause: true, updatedAt: true },
      });
    },

    /** Sets a key's cap (a new rate applies to the next blocks the senders reserve, within seconds); a slowed-down rate stays below it. */
    async set(domain: string, messagesPerSecond: number): Promise<'created' | 'updated'> {
      const existing = await db.domainThrottle.findUnique({ where: { domain } });
      const shapedBelow = existing && existing.messagesPerSecond < (existing.cap ?? existing.ceiling ?? Infinity);
      const rate = shapedBelow ? Math.min(existing.messagesPerSecond, messagesPerSecond) : messagesPerSecond;
      await db.domainThrottle.upsert({
        where: { domain },
        create: { domain, messagesPerSecond, cap: messagesPerSecond },
        update: { messagesPerSecond: rate, cap: messagesPerSecond, updatedAt: new Date() },
      });
      return existing ? 'updated' : 'created';
    },

    async remove(domain: string): Promise<boolean> {
      return (await db.domainThrottle.deleteMany({ where: { domain } })).count > 0;
    },

    /**
     * Reserves the next `count` slots of a key: after the last slot anyone reserved, or from now when the key was
     * idle (no catching up), never before its suspension ends. Undefined when the key has no rate any more.
     */
    async reserve(domain: string, count: number, now = Date.now()): Promise<SlotBlock | undefined> {
      const rows = await db.$queryRaw<Array<{ nextAt: number; messagesPerSecond: number }>>`
        UPDATE "DomainThrottle" SET "nextAt" = ${greatest}("nextAt", ${now}, "suspendedUntil") + ${count} * 1000.0 / "messagesPerSecond"
        WHERE "domain" = ${domain} RETURNING "nextAt", "messagesPerSecond"`;
      if (rows.length === 0) return undefined;
      const rate = Number(rows[0].messagesPerSecond);
      const intervalMs = 1000 / rate;
      return { startsAt: Number(rows[0].nextAt) - count * intervalMs, intervalMs, count, rate };
    },

    /** A throttling reply: halves the key's rate, unless another sender did within the cool-down. */
    async slow(key: string, e: ShapingEvent): Promise<ShapingChange> {
      const now = e.now ?? Date.now();
      const rows = await db.$queryRaw<Array<{ messagesPerSecond: number; suspendedUntil: number }>>`
        UPDATE "DomainThrottle" SET "peak" = "messagesPerSecond", "messagesPerSecond" = ${greatest}(${AIMD.minRate}, "messagesPerSecond" * ${AIMD.decrease}),
          "slowedAt" = ${now}, "lastReply" = ${e.reply}, "cause" = ${e.cause}, "updatedAt" = ${new Date(now)}
        WHERE "domain" = ${key} AND "slowedAt" <= ${now - AIMD.coolDownMs} RETURNING "messagesPerSecond", "suspendedUntil"`;
      if (rows.length > 0) return { change: 'slowed', rate: Number(rows[0].messagesPerSecond), suspendedUntil: Number(rows[0].suspendedUntil) };
      const observed = Math.max(AIMD.minRate, e.observedRate);
      const created = await createShaped(key, Math.max(AIMD.minRate, observed * AIMD.decrease), observed, 0, e, now);
      return created > 0 ? { change: 'slowed', rate: Math.max(AIMD.minRate, observed * AIMD.decrease), suspendedUntil: 0 } : stateOf(key);
    },

    /** A suspension rule: nothing goes to the key before `until` (the replies to messages already on their way extend nothing). */
    async suspend(key: string, until: number, e: ShapingEvent): Promise<ShapingChange> {
      const now = e.now ?? Date.now();
      const rows = await db.$queryRaw<Array<{ messagesPerSecond: number; suspendedUntil: number }>>`
        UPDATE "DomainThrottle" SET "suspendedUntil" = ${until}, "lastReply" = ${e.reply}, "cause" = ${e.cause}, "updatedAt" = ${new Date(now)}
        WHERE "domain" = ${key} AND "suspendedUntil" + ${AIMD.coolDownMs} < ${until} RETURNING "messagesPerSecond", "suspendedUntil"`;
      if (rows.length > 0) return { change: 'suspended', rate: Number(rows[0].messagesPerSecond), suspendedUntil: until };
      const observed = Math.max(AIMD.minRate, e.observedRate);
      const created = await createShaped(key, observed, observed, until, e, now);
      return created > 0 ? { change: 'suspended', rate: observed, suspendedUntil: until } : stateOf(key);
    },

    /**
     * Clean sending for a step: raises the key's rate by one step towards its cap (or its ceiling), unless another
     * sender did within the step or a slow-down came meanwhile. A shaped key without a cap back at its ceiling and not
     * suspended is let go (deleted): the provider is left alone again. Returns the new rate (undefined: let go).
     */
    async raise(key: string, now = Date.now()): Promise<{ change: 'raised' | 'released' | 'unchanged'; rate?: number }> {
      const since = now - AIMD.raiseEveryMs;
      const released = await db.$executeRaw`
        DELETE FROM "DomainThrottle" WHERE "domain" = ${key} AND "cap" IS NULL AND "messagesPerSecond" >= "ceiling"
          AND "suspendedUntil" <= ${now} AND "slowedAt" <= ${since}`;
      if (released > 0) return { change: 'released' };
      const rows = await db.$queryRaw<Array<{ messagesPerSecond: number }>>`
        UPDATE "DomainThrottle" SET "messagesPerSecond" = ${least}(COALESCE("cap", "ceiling"),
            "messagesPerSecond" + ${greatest}(${AIMD.minStep}, COALESCE("peak", "messagesPerSecond") * ${AIMD.stepOfPeak})),
          "raisedAt" = ${now}
        WHERE "domain" = ${key} AND "raisedAt" <= ${since} AND "slowedAt" <= ${since} AND "suspendedUntil" <= ${now}
          AND "messagesPerSecond" < COALESCE("cap", "ceiling") RETURNING "messagesPerSecond"`;
      return rows.length > 0 ? { change: 'raised', rate: Number(rows[0].messagesPerSecond) } : { change: 'unchanged' };
    },
  }, retry);
}
