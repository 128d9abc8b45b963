// DKIM signing of a whole message with the sender domain's keys (mailauth, relaxed/relaxed): one signature per
// selector, so a rotation signs with the old and the new key until the old one is removed.
import { dkimSign } from 'mailauth/lib/dkim/sign';
import type { DkimKey } from '../../domain/dkim-keys';

/** The headers a signature covers: what a receiver shows and what bulk-mail rules read. */
const SIGNED_HEADERS = ['From', 'To', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Content-Type', 'List-Id', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'Feedback-ID'];

export type MessageSigner = (raw: string) => Promise<string>;

/** The DKIM-Signature headers of a message (one per key), to put before its own headers. */
export async function dkimSignatures(keys: DkimKey[], raw: string): Promise<string> {
  const signatureData = keys.map((k) => ({ signingDomain: k.domain, selector: k.selector, privateKey: k.privateKey, canonicalization: 'relaxed/relaxed', headerList: SIGNED_HEADERS }));
  const { signatures, errors } = await dkimSign(raw, { ...signatureData[0], signatureData, strict: true });
  if (errors?.length) throw new Error(`DKIM signing failed: ${errors.map((e) => (e as { err?: Error }).err?.message ?? JSON.stringify(e)).join('; ')}`);
  return signatures;
}

/** Signs on the calling thread: proofs and tests. A sending attempt signs in its signing pool (signing-pool.ts). */
export function dkimSigner(keys: DkimKey[]): MessageSigner {
  if (keys.length === 0) return async (raw) => raw;
  return async (raw) => (await dkimSignatures(keys, raw)) + raw;
}
