// The DKIM keys that sign a delivery's mail: those of its sender's domain (or of a parent domain).
import type { DkimKey } from '../../domain/dkim-keys';
import type { SenderSigning } from '../../domain/control-rules';
import { domainOf } from '../../domain/address';
import { parseSender } from '../../domain/spec';
import { dkimKeys } from '../../store/dkim-keys';
import type { Database } from '../../store/prisma';
import type { TransientRetry } from '../../store/transient';

export function senderDomain(spec: { from: string }): string {
  return domainOf(parseSender(spec.from).address);
}

export function senderKeys(db: Database, secret: string, spec: { from: string }, retry?: TransientRetry): Promise<DkimKey[]> {
  return dkimKeys(db, secret, retry).keysFor(senderDomain(spec));
}

/** What the preparation's control rule reads: how many keys sign the sender's mail, or why they do not open. */
export async function senderSigning(db: Database, secret: string, spec: { from: string }): Promise<SenderSigning> {
  const domain = senderDomain(spec);
  try {
    return { domain, keys: (await senderKeys(db, secret, spec)).length };
  } catch (e) {
    if (/DKIM_KEYS_SECRET/.test((e as Error).message)) return { domain, problem: (e as Error).message };
    throw e;
  }
}
