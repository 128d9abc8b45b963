// Addresses that asked for no more email. Subscription state belongs to the address (lower-cased), so an
// unsubscription through any profile's link excludes every profile that has the address, in the next
// preparations and in the messages of prepared deliveries that have not gone yet.
import { addressKey } from '../domain/address';
import { isPostgres, type Database } from './prisma';
import { jsonStrings, jsonTable } from './json-lists';
import { transientTolerant, type TransientRetry } from './transient';

export const OPT_OUT_SOURCES = ['unsubscribe link', 'profile import', 'cli', 'complaint', 'esp'] as const;
export type OptOutSource = (typeof OPT_OUT_SOURCES)[number];

export interface OptOutRow {
  address: string;
  optedOutAt: Date;
  source: string;
  deliveryId: string | null;
}

export function optOuts(db: Database, retry?: TransientRetry) {
  return transientTolerant({
    /** The address keys among these that opted out. */
    async among(addressKeys: string[]): Promise<Set<string>> {
      if (addressKeys.length === 0) return new Set();
      const rows = await db.$queryRaw<Array<{ address: string }>>`
        SELECT "address" FROM "OptOut" WHERE "address" IN (${jsonStrings(addressKeys, isPostgres(db))})`;
      return new Set(rows.map((r) => r.address));
    },

    /** Opts these addresses out (an address already out keeps its first date and source); how many were new. */
    async add(addresses: string[], source: OptOutSource, deliveryId?: string): Promise<number> {
      const keys = [...new Set(addresses.map(addressKey).filter((k) => k !== ''))];
      if (keys.length === 0) return 0;
      return db.$executeRaw`
        INSERT INTO "OptOut" ("address", "optedOutAt", "source", "deliveryId")
        SELECT "address", ${new Date()}, ${source}, ${deliveryId ?? null} FROM ${jsonTable({ address: 'text' }, keys.map((k) => [k]), isPostgres(db))}
        WHERE true
        ON CONFLICT ("address") DO NOTHING`;
    },

    /** Newest first (an erased address reads as its hash). */
    async list(options: { source?: string; offset: number; limit: number }): Promise<{ total: number; rows: OptOutRow[] }> {
      const where = options.source === undefined ? {} : { source: options.source };
      const [total, rows] = await Promise.all([
        db.optOut.count({ where }),
        db.optOut.findMany({ where, orderBy: [{ optedOutAt: 'desc' }, { address: 'asc' }], skip: options.offset, take: options.limit }),
      ]);
      return { total, rows };
    },

    /**
     * Subscribes these addresses again: their opt-out goes, and so does the optOut flag of every profile holding
     * them (an import's opted-out row sets both). The address keys that were opted out.
     */
    async remove(addresses: string[]): Promise<string[]> {
      const keys = [...new Set(addresses.map(addressKey).filter((k) => k !== ''))];
      return db.$transaction(async (tx) => {
        const out = (await tx.optOut.findMany({ where: { address: { in: keys } }, select: { address: true } })).map((r) => r.address);
        const flagged = (await tx.profile.findMany({ where: { addressKey: { in: keys }, optOut: true }, select: { addressKey: true } })).map((r) => r.addressKey);
        await tx.optOut.deleteMany({ where: { address: { in: keys } } });
        await tx.profile.updateMany({ where: { addressKey: { in: keys }, optOut: true }, data: { optOut: false, updatedAt: new Date() } });
        return [...new Set([...out, ...flagged])].sort();
      });
    },
  }, retry);
}
