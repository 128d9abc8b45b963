// Queries on the sending logs (one row per targeted recipient), kept together.
// Statuses: pending → sending (claimed by a send attempt) → sent | failed; ignored (excluded); cancelled.
//
// Fencing: a send attempt owns the rows it claimed (`claim` = its token, status `sending`). Every write it
// makes to them afterwards — outcome, give-back, deferral — is conditioned on still owning them, and keeps
// its token in `claim`, so an attempt given up for dead (its rows re-queued by a successor) changes nothing.
// Only two writes change a row's owner: a claim, and the re-queue of a dead attempt's rows (claim NULL).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Prisma } from './generated/sqlite/client';
import { isPostgres, type Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';
import { AT_SEND_CAUSES, type ExclusionCounts, type ExclusionCause, type SendingProgress } from '../domain/delivery';
import { addressKey } from '../domain/address';
import { inSlices, IN_LIST_MAX, jsonInts, jsonTable, type JsonColumns } from './json-lists';


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
  softFailures: number;
}

/** Which sender claims rows: `<round>/<lane>/<attempt>/…` (see requeueInFlight). */
export interface SenderIdentity {
  round: string;
  lane: number;
  attempt: number;
}

export type MessageOutcome =
  /** Its Message-ID is derived from the sending log id (domain/bounce-references.ts): not stored. */
  | { id: number; email: string; status: 'sent'; /** When the relay answered 250. */ acceptedAt?: Date }
  | { id: number; email: string; status: 'failed'; failureType: 'hard' | 'soft' | 'ignored'; reason: string; possibleDuplicate?: boolean; senderRefused?: boolean }
  /** A soft failure inside the validity period: back to pending until retryAt (type ignored: refused for the sender). */
  | { id: number; email: string; status: 'retry'; retryAt: Date; reason: string; failureType?: 'soft' | 'ignored'; possibleDuplicate?: boolean; senderRefused?: boolean };

/** What a fenced recording changed. */
export interface Recorded {
  /** Rows the attempt still owned: their outcome is recorded. */
  applied: Set<number>;
  /** Rows another attempt took over: nothing was written to them. */
  lost: number[];
}

const NEW_SENDING_LOG_COLUMNS: JsonColumns = {
  deliveryId: 'text', profileId: 'int', email: 'text', addressKey: 'text', status: 'text', exclusionCause: 'text', personalization: 'text',
};

export function sendingLogs(db: Database, retry?: TransientRetry) {
  return transientTolerant({
    /** Highest profile id already targeted: preparation resumes after it. */
    async preparationCursor(deliveryId: string): Promise<number> {
      const r = await db.sendingLog.aggregate({ where: { deliveryId }, _max: { profileId: true } });
      return r._max.profileId ?? 0;
    },

    /**
     * Which of these address keys the delivery already targets (kept, not excluded): duplicates are
     * judged against the database page by page, so the worker's memory does not grow with the audience.
     */
    async targetedAmong(deliveryId: string, keys: string[]): Promise<Set<string>> {
      if (keys.length === 0) return new Set();
      // One index lookup per key. On Postgres the planner, with statistics taken before this delivery had rows
      // (a big table of other deliveries' logs), would scan all of the delivery's rows for every page instead:
      // a preparation quadratic in its audience. OFFSET 0 keeps the lookup per key.
      const postgres = isPostgres(db);
      const rows = await db.$queryRaw<Array<{ addressKey: string }>>`
        SELECT r."key" AS "addressKey" FROM ${jsonTable({ key: 'text' }, keys.map((k) => [k]), postgres)}
        WHERE EXISTS (SELECT 1 FROM "SendingLog" s WHERE s."deliveryId" = ${deliveryId} AND s."addressKey" = r."key" AND s."status" <> 'ignored'${postgres ? Prisma.raw(' OFFSET 0') : Prisma.empty})`;
      return new Set(rows.map((r) => r.addressKey));
    },

    /**
     * Postgres: refreshes the table's statistics. A new delivery's rows are unknown to statistics taken before it
     * started: the planner then reads "deliveryId = this one" as a handful of rows and looks duplicates up through
     * (deliveryId, profileId), scanning the whole delivery for each address, a preparation quadratic in its audience.
     * The preparation calls this after its first pages (SQLite plans these lookups without statistics).
     */
    async refreshStatistics(): Promise<void> {
      if (isPostgres(db)) await db.$executeRawUnsafe('ANALYZE "SendingLog"');
    },

    /** Messages sent to each of these profiles since a date by other deliveries (pressure rule). */
    async sentCountsSince(profileIds: number[], since: Date, exceptDeliveryId: string): Promise<Map<number, number>> {
      if (profileIds.length === 0) return new Map();
      const groups = await inSlices(profileIds, (slice) => db.sendingLog.groupBy({
        by: ['profileId'], where: { profileId: { in: slice }, sentAt: { gte: since }, deliveryId: { not: exceptDeliveryId } }, _count: { _all: true },
      }));
      return new Map(groups.map((g) => [g.profileId, g._count._all]));
    },

    /** Prepared rows (id order) after a given id: re-checked when a preparation resumes. */
    preparedAfter(deliveryId: string, afterId: number, take: number) {
      return db.sendingLog.findMany({
        where: { deliveryId, status: 'pending', id: { gt: afterId } }, orderBy: { id: 'asc' }, take,
        select: { id: true, profileId: true, personalization: true },
      });
    },

    /**
     * Re-applies the hold-out rules (control group, capacity): rows they excluded before go back to
     * pending, then `select` picks the new hold-outs among every pending row. Deterministic, so an
     * interrupted run is simply done again; done in slices that yield, so heartbeats keep flowing.
     */
    async applyHoldouts(
      deliveryId: string, causes: string[],
      select: (candidates: Array<{ id: number; profileId: number }>) => Record<string, number[]>,
    ): Promise<void> {
      await db.sendingLog.updateMany({ where: { deliveryId, status: 'ignored', exclusionCause: { in: causes } }, data: { status: 'pending', exclusionCause: null } });
      const candidates: Array<{ id: number; profileId: number }> = [];
      for (let after = 0; ;) {
        const page = await db.sendingLog.findMany({
          where: { deliveryId, status: 'pending', id: { gt: after } }, select: { id: true, profileId: true }, orderBy: { id: 'asc' }, take: 5000,
        });
        if (page.length === 0) break;
        candidates.push(...page);
        after = page[page.length - 1].id;
        await yieldToEventLoop();
      }
      for (const [cause, ids] of Object.entries(select(candidates))) {
        for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
          await db.sendingLog.updateMany({ where: { id: { in: ids.slice(i, i + IN_LIST_MAX) } }, data: { status: 'ignored', exclusionCause: cause } });
          await yieldToEventLoop();
        }
      }
    },

    /** One INSERT of a page, its rows bound as one JSON parameter (store/json-lists.ts says why). */
    async insert(rows: NewSendingLog[]): Promise<void> {
      if (rows.length === 0) return;
      const values = rows.map((r) => [r.deliveryId, r.profileId, r.email, addressKey(r.email), r.status, r.exclusionCause ?? null, r.personalization]);
      await db.$executeRaw`
        INSERT INTO "SendingLog" ("deliveryId", "profileId", "email", "addressKey", "status", "exclusionCause", "personalization")
        SELECT "deliveryId", "profileId", "email", "addressKey", "status", "exclusionCause", "personalization"
        FROM ${jsonTable(NEW_SENDING_LOG_COLUMNS, values, isPostgres(db))}`;
    },

    async exclusionCounts(deliveryId: string): Promise<{ toDeliver: number; exclusions: ExclusionCounts }> {
      const groups = await db.sendingLog.groupBy({ by: ['status', 'exclusionCause'], where: { deliveryId }, _count: { _all: true } });
      const exclusions: ExclusionCounts = {};
      let toDeliver = 0;
      // Largest cause first (then by name): the order the log and the CLI show, whatever order the database groups in.
      groups.sort((a, b) => b._count._all - a._count._all || String(a.exclusionCause).localeCompare(String(b.exclusionCause)));
      for (const g of groups) {
        if (g.status === 'ignored') exclusions[g.exclusionCause as ExclusionCause] = g._count._all;
        else toDeliver += g._count._all;
      }
      return { toDeliver, exclusions };
    },

    /** Prepared rows of an earlier content version (an edit): none was ever handed to SMTP, so nothing of value is lost. */
    async forgetPrepared(deliveryId: string): Promise<void> {
      const handedOut = await db.sendingLog.count({ where: { deliveryId, OR: [{ sendAttempts: { gt: 0 } }, { status: { notIn: ['pending', 'ignored'] } }] } });
      if (handedOut > 0) throw new Error(`delivery ${deliveryId} has ${handedOut} messages handed out already: its sending logs are kept`);
      await db.sendingLog.deleteMany({ where: { deliveryId } });
    },

    /**
     * Claimed rows whose address opted out or was quarantined since the preparation: never sent, kept as
     * ignored with that cause (fenced like every write of a send attempt). Returns the ids it took.
     */
    async excludeAtSend(claim: string, rows: Array<{ id: number; cause: ExclusionCause }>): Promise<number[]> {
      const taken: number[] = [];
      for (const cause of new Set(rows.map((r) => r.cause))) {
        const ids = rows.filter((r) => r.cause === cause).map((r) => r.id);
        const updated = await db.$queryRaw<Array<{ id: number | bigint }>>`
          UPDATE "SendingLog" SET "status" = 'ignored', "exclusionCause" = ${cause}, "claim" = ${claim}, "retryAt" = NULL
          WHERE "id" IN (${jsonInts(ids, isPostgres(db))}) AND "claim" = ${claim} AND "status" = 'sending'
          RETURNING "id"`;
        taken.push(...updated.map((r) => Number(r.id)));
      }
      return taken;
    },

    /**
     * Rows left in `sending` by a dead send attempt were in flight when a worker died: put them back in
     * the queue, marked as possible duplicates (the relay may have accepted them before the crash).
     * Dead means: claimed in an earlier sending round, or by an earlier attempt of this sender. Rows of
     * the other senders of this round (alive, maybe on another worker) are left alone.
     */
    async requeueInFlight(deliveryId: string, me: SenderIdentity): Promise<number> {
      const r = await db.sendingLog.updateMany({
        where: {
          deliveryId, status: 'sending',
          OR: [
            { claim: null },
            { NOT: { claim: { startsWith: `${me.round}/` } } },
            { AND: [{ claim: { startsWith: `${me.round}/${me.lane}/` } }, { NOT: { claim: { startsWith: `${me.round}/${me.lane}/${me.attempt}/` } } }] },
          ],
        },
        data: { status: 'pending', claim: null, possibleDuplicate: true },
      });
      return r.count;
    },

    /**
     * Claims up to `limit` rows due for sending (status → sending before any SMTP traffic), in one
     * statement. On Postgres, rows another sender is claiming at the same moment are skipped (FOR UPDATE
     * SKIP LOCKED), so parallel senders never wait for each other nor claim the same row; SQLite has a
     * single writer. Dates are compared as stored: timestamps on Postgres, ISO-8601 text on SQLite.
     */
    async claim(deliveryId: string, claim: string, limit: number): Promise<ClaimedMessage[]> {
      const postgres = isPostgres(db);
      const now = postgres ? Prisma.sql`(now() AT TIME ZONE 'UTC')` : Prisma.sql`${new Date()}`;
      const rows = await db.$queryRaw<ClaimedMessage[]>`
        UPDATE "SendingLog" SET "status" = 'sending', "claim" = ${claim}, "sendAttempts" = "sendAttempts" + 1
        WHERE "id" IN (
          SELECT "id" FROM "SendingLog"
          WHERE "deliveryId" = ${deliveryId} AND "status" = 'pending' AND ("retryAt" IS NULL OR "retryAt" <= ${now})
          ORDER BY "id" LIMIT ${limit} ${postgres ? Prisma.sql`FOR UPDATE SKIP LOCKED` : Prisma.empty})
        RETURNING "id", "email", "personalization", "sendAttempts", "softFailures"`;
      return rows.sort((a, b) => a.id - b.id);
    },

    /** The earliest retry still waiting, if any. */
    async nextRetryAt(deliveryId: string): Promise<Date | undefined> {
      const r = await db.sendingLog.aggregate({ where: { deliveryId, status: 'pending' }, _min: { retryAt: true } });
      return r._min.retryAt ?? undefined;
    },

    /** Final failures by reason (the full SMTP reply is kept per row; counting uses `reasonOf`). */
    async failureReasons(deliveryId: string): Promise<Array<{ reason: string; count: number }>> {
      const groups = await db.sendingLog.groupBy({ by: ['reason'], where: { deliveryId, status: 'failed' }, _count: { _all: true } });
      return groups.map((g) => ({ reason: g.reason ?? 'unknown', count: g._count._all }));
    },

    /** Gives back claimed rows whose domain is at its cap, not to be claimed again before their time (fenced). */
    async defer(claim: string, rows: Array<{ id: number; until: Date }>): Promise<void> {
      for (const r of rows) {
        await db.sendingLog.updateMany({
          where: { id: r.id, claim, status: 'sending' },
          data: { status: 'pending', claim, retryAt: r.until, sendAttempts: { decrement: 1 } },
        });
      }
    },

    /** Gives back claimed rows that were not handed to SMTP (pause, stop, relay fault, shutdown), fenced. */
    async release(claim: string, ids: number[]): Promise<void> {
      if (ids.length === 0) return;
      await db.$executeRaw`
        UPDATE "SendingLog" SET "status" = 'pending', "claim" = ${claim}, "sendAttempts" = "sendAttempts" - 1
        WHERE "id" IN (${jsonInts(ids, isPostgres(db))}) AND "claim" = ${claim} AND "status" = 'sending'`;
    },

    /**
     * Rows this attempt still holds in `sending` although it knows of none: a claim whose reply was lost to
     * a connection error after it committed. Given back, or they would stay claimed and never be sent.
     */
    async releaseOrphans(deliveryId: string, claim: string): Promise<number> {
      const r = await db.sendingLog.updateMany({
        where: { deliveryId, claim, status: 'sending' }, data: { status: 'pending', sendAttempts: { decrement: 1 } },
      });
      return r.count;
    },

    /**
     * Records outcomes of rows this attempt owns, one statement for the successes and one per other outcome
     * (each fenced and atomic on its own). A row taken over by another attempt is left alone and reported
     * lost. A retry after an ambiguous error (a commit whose reply was lost) finds its rows already settled
     * under its own claim: they count as applied.
     */
    async record(claim: string, outcomes: MessageOutcome[]): Promise<Recorded> {
      const applied = new Set<number>();
      if (outcomes.length === 0) return { applied, lost: [] };
      const postgres = isPostgres(db);
      const sent = outcomes.filter((o) => o.status === 'sent').map((o) => o.id);
      if (sent.length) {
        // Raw, the ids as one JSON parameter: nearly every outcome is a success (a few hundred per 100 ms).
        const rows = await db.$queryRaw<Array<{ id: number | bigint }>>`
          UPDATE "SendingLog" SET "status" = 'sent', "claim" = ${claim}, "sentAt" = ${new Date()}, "retryAt" = NULL
          WHERE "id" IN (${jsonInts(sent, postgres)}) AND "claim" = ${claim} AND "status" = 'sending'
          RETURNING "id"`;
        for (const r of rows) applied.add(Number(r.id));
      }
      for (const o of outcomes) {
        if (o.status === 'sent') continue;
        const flags = { ...(o.possibleDuplicate ? { possibleDuplicate: true } : {}), ...(o.senderRefused ? { senderRefusedAt: new Date() } : {}) };
        const r = await db.sendingLog.updateMany({
          where: { id: o.id, claim, status: 'sending' },
          data: o.status === 'failed' ? { status: 'failed', failureType: o.failureType, reason: o.reason, claim, retryAt: null, ...flags }
            : { status: 'pending', failureType: o.failureType ?? 'soft', reason: o.reason, claim, retryAt: o.retryAt, softFailures: { increment: 1 }, ...flags },
        });
        if (r.count === 1) applied.add(o.id);
      }
      let lost = outcomes.filter((o) => !applied.has(o.id)).map((o) => o.id);
      if (lost.length) {
        const stillMine = await inSlices(lost, (slice) => db.sendingLog.findMany({ where: { id: { in: slice }, claim, status: { not: 'sending' } }, select: { id: true } }));
        for (const r of stillMine) applied.add(r.id);
        lost = lost.filter((id) => !applied.has(id));
      }
      return { applied, lost };
    },

    async sendingCounts(deliveryId: string): Promise<SendingProgress> {
      const [sent, delivered, failed, possibleDuplicates, excludedAtSend, senderRefusals] = await Promise.all([
        db.sendingLog.count({ where: { deliveryId, sentAt: { not: null } } }),
        db.sendingLog.count({ where: { deliveryId, status: 'sent' } }),
        db.sendingLog.count({ where: { deliveryId, status: 'failed' } }),
        db.sendingLog.count({ where: { deliveryId, possibleDuplicate: true } }),
        db.sendingLog.count({ where: { deliveryId, status: 'ignored', exclusionCause: { in: AT_SEND_CAUSES } } }),
        db.sendingLog.count({ where: { deliveryId, senderRefusedAt: { not: null } } }),
      ]);
      return { sent, delivered, failed, possibleDuplicates, excludedAtSend, senderRefusals };
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

    /** A stopped delivery: whatever was not sent is cancelled and will never be. How many are cancelled in all (a retry reports the same). */
    async cancelUnsent(deliveryId: string): Promise<number> {
      await db.sendingLog.updateMany({
        where: { deliveryId, status: { in: ['pending', 'sending'] } }, data: { status: 'cancelled', claim: null },
      });
      return db.sendingLog.count({ where: { deliveryId, status: 'cancelled' } });
    },
  }, retry);
}

