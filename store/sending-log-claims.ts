// Sending logs, the send attempts' writes. Statuses: pending → sending (claimed) → sent | failed; ignored
// (excluded at send); cancelled (a stopped delivery).
//
// The fencing rule: a send attempt owns the rows it claimed (`claim` = its token, status `sending`). Every write it
// makes to them afterwards (outcome, give-back, deferral, exclusion at send) is conditioned on still owning them,
// `"claim" = <token> AND "status" = 'sending'`, and keeps its token in `claim`, so an attempt given up for dead (its
// rows re-queued by a successor) changes nothing. Only two writes change a row's owner: a claim, and the re-queue
// of a dead attempt's rows (claim NULL); a stop's cancellation ends every row that was not sent.
import { Prisma } from './generated/sqlite/client';
import { isPostgres, type Database } from './prisma';
import type { ExclusionCause } from '../domain/delivery';
import { inSlices, jsonInts } from './json-lists';
import type { ClaimedMessage, MessageOutcome, Recorded, SenderIdentity } from './sending-logs';

/** Which pending rows a sending attempt may claim: an A/B test's population only, or a wave's rows only. */
export interface ClaimScope {
  testOnly?: boolean;
  upToId?: number;
}

/** The scope as a Prisma condition on pending rows (the claim statement writes the same in SQL). */
export function scopeWhere(scope: ClaimScope): { variant?: { not: null }; id?: { lte: number } } {
  return { ...(scope.testOnly ? { variant: { not: null } } : {}), ...(scope.upToId !== undefined ? { id: { lte: scope.upToId } } : {}) };
}

export function sendingClaims(db: Database) {
  return {
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
     * The scope: an A/B test's population alone (rows with a variant) while the rest waits for the winner; a wave's
     * rows (up to its last id) while the later waves wait.
     */
    async claim(deliveryId: string, claim: string, limit: number, scope: ClaimScope = {}): Promise<ClaimedMessage[]> {
      const postgres = isPostgres(db);
      const now = postgres ? Prisma.sql`(now() AT TIME ZONE 'UTC')` : Prisma.sql`${new Date()}`;
      const rows = await db.$queryRaw<ClaimedMessage[]>`
        UPDATE "SendingLog" SET "status" = 'sending', "claim" = ${claim}, "sendAttempts" = "sendAttempts" + 1
        WHERE "id" IN (
          SELECT "id" FROM "SendingLog"
          WHERE "deliveryId" = ${deliveryId} AND "status" = 'pending' AND ("retryAt" IS NULL OR "retryAt" <= ${now})
            ${scope.testOnly ? Prisma.sql`AND "variant" IS NOT NULL` : Prisma.empty} ${scope.upToId !== undefined ? Prisma.sql`AND "id" <= ${scope.upToId}` : Prisma.empty}
          ORDER BY "id" LIMIT ${limit} ${postgres ? Prisma.sql`FOR UPDATE SKIP LOCKED` : Prisma.empty})
        RETURNING "id", "email", "personalization", "sendAttempts", "softFailures", "variant"`;
      return rows.sort((a, b) => a.id - b.id);
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

    /** A stopped delivery: whatever was not sent is cancelled and will never be. How many are cancelled in all (a retry reports the same). */
    async cancelUnsent(deliveryId: string): Promise<number> {
      await db.sendingLog.updateMany({
        where: { deliveryId, status: { in: ['pending', 'sending'] } }, data: { status: 'cancelled', claim: null },
      });
      return db.sendingLog.count({ where: { deliveryId, status: 'cancelled' } });
    },
  };
}
