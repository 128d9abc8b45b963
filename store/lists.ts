// Subscription lists: a status per address (subscribed / unsubscribed, when and how).
import { addressKey } from '../domain/address';
import { isPostgres, type Database } from './prisma';
import { jsonTable } from './json-lists';
import { transientTolerant, type TransientRetry } from './transient';

export type SubscriptionSource = 'cli' | 'import' | 'unsubscribe link' | 'file audience';

export interface ListSummary {
  name: string;
  description: string;
  createdAt: Date;
  subscribed: number;
  unsubscribed: number;
}

/** Every call waits out transient database errors (with `retry`: the sending attempt's bound). */
export function lists(db: Database, retry?: TransientRetry) {
  const postgres = isPostgres(db);
  return transientTolerant({
    async create(name: string, description = ''): Promise<boolean> {
      if (await db.list.findUnique({ where: { name } })) return false;
      await db.list.create({ data: { name, description } });
      return true;
    },

    async idOf(name: string): Promise<number | undefined> {
      return (await db.list.findUnique({ where: { name }, select: { id: true } }))?.id;
    },

    async summaries(): Promise<ListSummary[]> {
      const [all, counts] = await Promise.all([
        db.list.findMany({ orderBy: { name: 'asc' } }),
        db.listSubscription.groupBy({ by: ['listId', 'status'], _count: { _all: true } }),
      ]);
      const count = (listId: number, status: string) => counts.find((c) => c.listId === listId && c.status === status)?._count._all ?? 0;
      return all.map((l) => ({ name: l.name, description: l.description, createdAt: l.createdAt, subscribed: count(l.id, 'subscribed'), unsubscribed: count(l.id, 'unsubscribed') }));
    },

    /** Latest changes of a list, newest first. */
    /** A page of the list's subscriptions, latest changes first. */
    async subscriptions(listId: number, skip = 0, take = 50) {
      return db.listSubscription.findMany({ where: { listId }, orderBy: [{ changedAt: 'desc' }, { address: 'asc' }], skip, take });
    },

    /**
     * Sets these addresses' status on the list. Subscribing again an address that unsubscribed is an explicit
     * act (CLI, import): it is recorded with its source. Returns how many changed.
     */
    async setStatus(listId: number, addresses: string[], status: 'subscribed' | 'unsubscribed', source: SubscriptionSource, deliveryId?: string): Promise<number> {
      const keys = [...new Set(addresses.map(addressKey).filter((k) => k !== ''))];
      if (keys.length === 0) return 0;
      return db.$executeRaw`
        INSERT INTO "ListSubscription" ("listId", "address", "status", "changedAt", "source", "deliveryId")
        SELECT ${listId}, "address", ${status}, ${new Date()}, ${source}, ${deliveryId ?? null} FROM ${jsonTable({ address: 'text' }, keys.map((k) => [k]), postgres)}
        WHERE true
        ON CONFLICT ("listId", "address") DO UPDATE SET "status" = excluded."status", "changedAt" = excluded."changedAt",
          "source" = excluded."source", "deliveryId" = excluded."deliveryId"
        WHERE "ListSubscription"."status" <> excluded."status"`;
    },

    /** The address keys among these that unsubscribed from the list (checked again when a message goes). */
    async unsubscribedAmong(listId: number, keys: string[]): Promise<Set<string>> {
      if (keys.length === 0) return new Set();
      const rows = await db.$queryRaw<Array<{ address: string }>>`
        SELECT s."address" FROM "ListSubscription" s JOIN ${jsonTable({ address: 'text' }, keys.map((k) => [k]), postgres)} ON r."address" = s."address"
        WHERE s."listId" = ${listId} AND s."status" = 'unsubscribed'`;
      return new Set(rows.map((r) => r.address));
    },
  }, retry);
}
