// Addresses that asked for no more email. Subscription state belongs to the address (lower-cased), so an
// unsubscription through any profile's link excludes every profile that has the address, in the next
// preparations and in the messages of prepared deliveries that have not gone yet.
import { addressKey } from '../domain/address';
import { isPostgres, type Database } from './prisma';
import { jsonStrings, jsonTable } from './json-lists';
import { transientTolerant, type TransientRetry } from './transient';

export type OptOutSource = 'unsubscribe link' | 'profile import';

export function optOuts(db: Database, retry?: TransientRetry) {
  return transientTolerant({
    /** The address keys among these that opted out. */
    async among(addressKeys: string[]): Promise<Set<string>> {
      if (addressKeys.length === 0) return new Set();
      const rows = await db.$queryRaw<Array<{ address: string }>>`
        SELECT "address" FROM "OptOut" WHERE "address" IN (${jsonStrings(addressKeys, isPostgres(db))})`;
      return new Set(rows.map((r) => r.address));
    },

    /** Opts these addresses out (an address already out keeps its first date and source). */
    async add(addresses: string[], source: OptOutSource, deliveryId?: string): Promise<void> {
      const keys = [...new Set(addresses.map(addressKey).filter((k) => k !== ''))];
      if (keys.length === 0) return;
      await db.$executeRaw`
        INSERT INTO "OptOut" ("address", "optedOutAt", "source", "deliveryId")
        SELECT "address", ${new Date()}, ${source}, ${deliveryId ?? null} FROM ${jsonTable({ address: 'text' }, keys.map((k) => [k]), isPostgres(db))}
        WHERE true
        ON CONFLICT ("address") DO NOTHING`;
    },
  }, retry);
}
