// The quarantine of addresses, shared by every delivery.
import { afterFailure, type QuarantineState } from '../domain/quarantine';
import type { Failure } from '../domain/failures';
import { Prisma } from './generated/sqlite/client';
import { isPostgres, type Database } from './prisma';
import { inSlices, jsonStrings } from './json-lists';
import { transientTolerant, type TransientRetry } from './transient';

export interface AddressFailure {
  address: string;
  failure: Failure;
  deliveryId: string;
}

export function quarantine(db: Database, retry?: TransientRetry) {
  return transientTolerant({
    /** The address keys among these that are in quarantine. */
    async quarantinedAmong(addressKeys: string[]): Promise<Set<string>> {
      if (addressKeys.length === 0) return new Set();
      // Raw, the keys as one JSON parameter: one page of the preparation asks for 1,000 addresses.
      const rows = await db.$queryRaw<Array<{ address: string }>>`
        SELECT "address" FROM "Quarantine" WHERE "status" = 'quarantined' AND "address" IN (${jsonStrings(addressKeys, isPostgres(db))})`;
      return new Set(rows.map((r) => r.address));
    },

    /**
     * Failures that are the addresses' own (never a relay fault). Read, then written one address at a time:
     * no multi-statement transaction, because on SQLite one would take in whatever else the worker runs
     * on its single connection meanwhile.
     */
    async recordFailures(failures: AddressFailure[], softThreshold: number): Promise<void> {
      if (failures.length === 0) return;
      const now = new Date();
      const keys = [...new Set(failures.map((f) => f.address.toLowerCase()))];
      const current = new Map((await inSlices(keys, (slice) => db.quarantine.findMany({ where: { address: { in: slice } } }))).map((r) => [r.address, r as QuarantineState]));
      const next = new Map<string, { state: QuarantineState; deliveryId: string }>();
      for (const f of failures) {
        const key = f.address.toLowerCase();
        const state = afterFailure(next.get(key)?.state ?? current.get(key), f.failure, softThreshold, now);
        if (state) next.set(key, { state, deliveryId: f.deliveryId });
      }
      for (const [address, { state, deliveryId }] of next) {
        await db.quarantine.upsert({
          where: { address },
          create: { address, ...state, lastErrorAt: now, deliveryId },
          update: { ...state, lastErrorAt: now, deliveryId },
        });
      }
    },

    /**
     * Messages accepted by the relay: their addresses are valid again, unless an error came after the message
     * was accepted (its own bounce, applied before the success was recorded, keeps the quarantine).
     */
    async recordSuccesses(addresses: string[], acceptedAt: Date): Promise<void> {
      if (addresses.length === 0) return;
      const postgres = isPostgres(db);
      const iso = acceptedAt.toISOString();
      // Dates compare as stored: timestamps (UTC) on Postgres, ISO-8601 text on SQLite.
      const accepted = postgres ? Prisma.sql`(${iso}::timestamptz AT TIME ZONE 'UTC')` : Prisma.sql`${iso.replace('Z', '+00:00')}`;
      // Raw, one JSON parameter: called for every recording of the sending (a hundred addresses every 100 ms).
      await db.$executeRaw`
        UPDATE "Quarantine" SET "status" = 'valid', "errorCount" = 0, "quarantinedAt" = NULL
        WHERE "address" IN (${jsonStrings(addresses.map((a) => a.toLowerCase()), postgres)}) AND ("errorCount" > 0 OR "status" = 'quarantined')
          AND "lastErrorAt" < ${accepted}`;
    },

    list(status?: 'quarantined' | 'valid') {
      return db.quarantine.findMany({ where: status ? { status } : {}, orderBy: { lastErrorAt: 'desc' } });
    },

    async release(address: string): Promise<boolean> {
      const r = await db.quarantine.updateMany({ where: { address: address.toLowerCase(), status: 'quarantined' }, data: { status: 'valid', errorCount: 0, quarantinedAt: null } });
      return r.count > 0;
    },
  }, retry);
}
