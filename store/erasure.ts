// Erasure of an address ("right to be forgotten"): its profiles are deleted and its personal data scrubbed from
// every text that can hold it (sending logs, their reasons, which relays write with the address in them, the
// quarantine's reason, proof logs); its messages not sent yet are never sent. What must still hold (opted out,
// quarantined, unsubscribed from a list) is kept under a keyed hash of the address (HMAC with ERASURE_SECRET, so
// that a list of candidate addresses cannot tell who was erased), and comes back into force if the address is
// ever imported again, whatever the path.
import { createHash, createHmac } from 'node:crypto';
import { addressKey } from '../domain/address';
import { EXCLUSION_CAUSES } from '../domain/delivery';
import type { Database } from './prisma';
import { jsonStrings } from './json-lists';

type Tx = Parameters<Parameters<Database['$transaction']>[0]>[0];

/** The stored form of an erased address: "erased:<HMAC-SHA256 of the lower-cased address, hex>". */
export function erasedAddress(key: string, secret: string): string {
  return `erased:${createHmac('sha256', secret).update(`erasure|${key}`).digest('hex')}`;
}

/** How erasures before the keyed hash stored an address (plain SHA-256): still recognised on import. */
function legacyHash(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** Whether a stored address is an erased one's hash: never an address to send to. */
export function isErasedAddress(stored: string): boolean {
  return stored.startsWith('erased:') || stored.startsWith('sha256:');
}

/**
 * Whether anything is kept under an erased address at all: a few index seeks, so that imports into an installation
 * without erasures (the common case) hash and look up nothing (it was 40% of an import's time).
 */
async function anyErased(tx: Tx): Promise<boolean> {
  const rows = await tx.$queryRaw<Array<{ found: unknown }>>`
    SELECT 1 AS "found" WHERE EXISTS (SELECT 1 FROM "OptOut" WHERE ("address" >= 'erased:' AND "address" < 'erased;') OR ("address" >= 'sha256:' AND "address" < 'sha256;'))
      OR EXISTS (SELECT 1 FROM "Quarantine" WHERE ("address" >= 'erased:' AND "address" < 'erased;') OR ("address" >= 'sha256:' AND "address" < 'sha256;'))
      OR EXISTS (SELECT 1 FROM "ListSubscription" WHERE ("address" >= 'erased:' AND "address" < 'erased;') OR ("address" >= 'sha256:' AND "address" < 'sha256;'))`;
  return rows.length > 0;
}

/** The address, in any case, in a text (a relay's reply, a reason) → "<erased>". */
export function scrubbed(text: string, key: string): string {
  return text.replace(new RegExp(key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '<erased>');
}

export interface ErasureReport {
  profiles: number;
  sendingLogs: number;
  /** Messages not sent yet, now never to be sent. */
  unsent: number;
  optedOut: boolean;
  quarantined: boolean;
  lists: number;
}

export async function eraseAddress(db: Database, address: string, secret: string): Promise<ErasureReport> {
  const key = addressKey(address);
  const hash = erasedAddress(key, secret);
  return db.$transaction(async (tx) => {
    const profiles = await tx.profile.findMany({ where: { addressKey: key }, select: { id: true } });
    const ids = profiles.map((p) => p.id);
    const ofAddress = { OR: [{ addressKey: key }, ...(ids.length ? [{ profileId: { in: ids } }] : [])] };
    // Not sent yet: never sent (a row claimed by a sender at this very moment is on the wire and is not recalled).
    const unsent = await tx.sendingLog.updateMany({
      where: { AND: [ofAddress, { status: 'pending' }] }, data: { status: 'ignored', exclusionCause: EXCLUSION_CAUSES.erasedSincePreparation, retryAt: null },
    });
    for (const row of await tx.sendingLog.findMany({ where: { AND: [ofAddress, { reason: { not: null } }] }, select: { id: true, reason: true } })) {
      await tx.sendingLog.update({ where: { id: row.id }, data: { reason: scrubbed(row.reason!, key) } });
    }
    // The logs keep their counts (KPIs of past deliveries); the address and the personalization go.
    const sendingLogs = await tx.sendingLog.updateMany({ where: ofAddress, data: { email: hash, addressKey: hash, personalization: '{}' } });
    // Proof lists are written by hand, in any case.
    for (const proof of await tx.$queryRaw<Array<{ id: number | bigint; reason: string | null }>>`SELECT "id", "reason" FROM "ProofLog" WHERE lower("email") = ${key}`) {
      await tx.proofLog.update({ where: { id: Number(proof.id) }, data: { email: hash, reason: proof.reason && scrubbed(proof.reason, key) } });
    }
    await tx.profile.deleteMany({ where: { addressKey: key } });
    const optedOut = (await tx.optOut.updateMany({ where: { address: key }, data: { address: hash } })).count > 0;
    const quarantine = await tx.quarantine.findUnique({ where: { address: key } });
    if (quarantine) await tx.quarantine.update({ where: { address: key }, data: { address: hash, reason: scrubbed(quarantine.reason, key) } });
    const lists = (await tx.listSubscription.updateMany({ where: { address: key, status: 'unsubscribed' }, data: { address: hash } })).count;
    await tx.listSubscription.deleteMany({ where: { address: key } });
    return { profiles: ids.length, sendingLogs: sendingLogs.count, unsent: unsent.count, optedOut, quarantined: quarantine !== null, lists };
  });
}

/**
 * Addresses a profile is being written to that were erased: their opt-out, quarantine and list unsubscriptions
 * apply again under the address (in the import's transaction, before any preparation can see the profiles).
 * Called for every address an import writes, whether it adds a profile, updates one or moves one there.
 */
export async function reviveSuppressions(tx: Tx, keys: string[], postgres: boolean, secret: string): Promise<void> {
  if (keys.length === 0 || !(await anyErased(tx))) return;
  const byHash = new Map(keys.flatMap((k) => [[erasedAddress(k, secret), k], [legacyHash(k), k]]));
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
