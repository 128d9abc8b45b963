// Erasure of an address ("right to be forgotten"): its profiles are deleted and its personal data scrubbed
// from the sending logs; what must still hold (opted out, quarantined, unsubscribed from a list) is kept
// under a one-way hash of the address, and comes back into force if the address is ever imported again.
import { createHash } from 'node:crypto';
import { addressKey } from '../domain/address';
import type { Database } from './prisma';
import { jsonStrings } from './json-lists';

type Tx = Parameters<Parameters<Database['$transaction']>[0]>[0];

/** The stored form of an erased address: "sha256:<hex of the lower-cased address>". */
export function suppressionHash(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

export interface ErasureReport {
  profiles: number;
  sendingLogs: number;
  optedOut: boolean;
  quarantined: boolean;
  lists: number;
}

export async function eraseAddress(db: Database, address: string): Promise<ErasureReport> {
  const key = addressKey(address);
  const hash = suppressionHash(key);
  return db.$transaction(async (tx) => {
    const profiles = await tx.profile.findMany({ where: { addressKey: key }, select: { id: true } });
    const ids = profiles.map((p) => p.id);
    // The logs keep their counts (KPIs of past deliveries); the address and the personalization go.
    const sendingLogs = await tx.sendingLog.updateMany({
      where: { OR: [{ addressKey: key }, ...(ids.length ? [{ profileId: { in: ids } }] : [])] },
      data: { email: hash, addressKey: hash, personalization: '{}' },
    });
    await tx.profile.deleteMany({ where: { addressKey: key } });
    const optedOut = (await tx.optOut.updateMany({ where: { address: key }, data: { address: hash } })).count > 0;
    const quarantined = (await tx.quarantine.updateMany({ where: { address: key }, data: { address: hash } })).count > 0;
    const lists = (await tx.listSubscription.updateMany({ where: { address: key, status: 'unsubscribed' }, data: { address: hash } })).count;
    await tx.listSubscription.deleteMany({ where: { address: key } });
    return { profiles: ids.length, sendingLogs: sendingLogs.count, optedOut, quarantined, lists };
  });
}

/**
 * Addresses being imported that were erased: their opt-out, quarantine and list unsubscriptions apply again
 * under the address (in the import's transaction, before any preparation can see the new profiles).
 */
export async function reviveSuppressions(tx: Tx, keys: string[], postgres: boolean): Promise<void> {
  const byHash = new Map(keys.map((k) => [suppressionHash(k), k]));
  const hashes = jsonStrings([...byHash.keys()], postgres);
  const optOuts = await tx.$queryRaw<Array<{ address: string }>>`SELECT "address" FROM "OptOut" WHERE "address" IN (${hashes})`;
  const quarantined = await tx.$queryRaw<Array<{ address: string }>>`SELECT "address" FROM "Quarantine" WHERE "address" IN (${hashes})`;
  const unsubscribed = await tx.$queryRaw<Array<{ address: string }>>`SELECT "address" FROM "ListSubscription" WHERE "address" IN (${hashes})`;
  // The hashed row is the fact to restore; one set under the address since is dropped in its favour.
  for (const { address } of optOuts) {
    const key = byHash.get(address)!;
    await tx.optOut.deleteMany({ where: { address: key } });
    await tx.optOut.updateMany({ where: { address }, data: { address: key } });
  }
  for (const { address } of quarantined) {
    const key = byHash.get(address)!;
    await tx.quarantine.deleteMany({ where: { address: key } });
    await tx.quarantine.updateMany({ where: { address }, data: { address: key } });
  }
  for (const { address } of unsubscribed) {
    const key = byHash.get(address)!;
    const rows = await tx.listSubscription.findMany({ where: { address } });
    for (const r of rows) {
      await tx.listSubscription.deleteMany({ where: { listId: r.listId, address: key } });
      await tx.listSubscription.update({ where: { listId_address: { listId: r.listId, address } }, data: { address: key } });
    }
  }
}
