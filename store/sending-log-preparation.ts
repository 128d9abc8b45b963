// Sending logs, the preparation's queries: one row per targeted recipient, written page by page (kept or
// excluded with its cause), duplicates judged against the database, hold-outs re-applied deterministically.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isPostgres, type Database } from './prisma';
import type { ExclusionCounts, ExclusionCause } from '../domain/delivery';
import { addressKey } from '../domain/address';
import { inSlices, IN_LIST_MAX, jsonTable, type JsonColumns } from './json-lists';
import type { NewSendingLog } from './sending-logs';

const NEW_SENDING_LOG_COLUMNS: JsonColumns = {
  deliveryId: 'text', profileId: 'int', email: 'text', addressKey: 'text', status: 'text', exclusionCause: 'text', personalization: 'text',
};

export function preparationQueries(db: Database) {
  return {
    /** Highest profile id already targeted: preparation resumes after it. */
    async preparationCursor(deliveryId: string): Promise<number> {
      const r = await db.sendingLog.aggregate({ where: { deliveryId }, _max: { profileId: true } });
      return r._max.profileId ?? 0;
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
      const candidates = await pendingRows(db, deliveryId, 'profileId');
      for (const [cause, ids] of Object.entries(select(candidates))) {
        for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
          await db.sendingLog.updateMany({ where: { id: { in: ids.slice(i, i + IN_LIST_MAX) } }, data: { status: 'ignored', exclusionCause: cause } });
          await yieldToEventLoop();
        }
      }
    },

    /**
     * Draws the A/B test population again among the messages that will go: every variant set before is cleared,
     * then `assign` gets every pending row (id, address key) and returns the row ids of each variant. Deterministic,
     * so an interrupted preparation simply does it again; nothing was handed out yet.
     */
    async applyVariants(deliveryId: string, assign: (candidates: Array<{ id: number; addressKey: string }>) => Map<string, number[]>): Promise<void> {
      await db.sendingLog.updateMany({ where: { deliveryId, variant: { not: null } }, data: { variant: null } });
      for (const [variant, ids] of assign(await pendingRows(db, deliveryId, 'addressKey'))) {
        for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
          await db.sendingLog.updateMany({ where: { id: { in: ids.slice(i, i + IN_LIST_MAX) } }, data: { variant } });
          await yieldToEventLoop();
        }
      }
    },

    /** The A/B test population of each variant, in the spec's order. */
    async variantCounts(deliveryId: string, variants: string[]): Promise<Record<string, number>> {
      const groups = await db.sendingLog.groupBy({ by: ['variant'], where: { deliveryId, status: 'pending', variant: { not: null } }, _count: { _all: true } });
      return Object.fromEntries(variants.map((v) => [v, groups.find((g) => g.variant === v)?._count._all ?? 0]));
    },

    /**
     * Waves, in the target's order: the highest id of each wave among the messages outside the A/B test population
     * (one indexed read per wave). The claims of wave k take the rows up to its id; nothing is written per row.
     */
    async waveEnds(deliveryId: string, sizes: number[]): Promise<number[]> {
      const ends: number[] = [];
      let taken = 0;
      for (const size of sizes) {
        taken += size;
        const row = await db.sendingLog.findFirst({
          where: { deliveryId, status: 'pending', variant: null }, orderBy: { id: 'asc' }, skip: taken - 1, select: { id: true },
        });
        if (!row) throw new Error(`delivery ${deliveryId} has fewer than ${taken} messages outside its test population`);
        ends.push(row.id);
        await yieldToEventLoop();
      }
      return ends;
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
  };
}

/** Every pending row of the delivery (id order) with one more column, read in pages that yield to heartbeats. */
async function pendingRows<C extends 'profileId' | 'addressKey'>(db: Database, deliveryId: string, column: C): Promise<Array<{ id: number } & Record<C, PendingColumns[C]>>> {
  const rows: Array<{ id: number } & Record<C, PendingColumns[C]>> = [];
  for (let after = 0; ;) {
    const page = await db.sendingLog.findMany({
      where: { deliveryId, status: 'pending', id: { gt: after } }, select: { id: true, [column]: true }, orderBy: { id: 'asc' }, take: 5000,
    }) as unknown as Array<{ id: number } & Record<C, PendingColumns[C]>>;
    if (page.length === 0) return rows;
    rows.push(...page);
    after = page[page.length - 1].id;
    await yieldToEventLoop();
  }
}

interface PendingColumns {
  profileId: number;
  addressKey: string;
}
