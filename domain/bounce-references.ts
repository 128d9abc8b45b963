// What lets a bounce name its message: the VERP return path (bounces+<sending log id>-<tag>@BOUNCE_DOMAIN)
// and the Message-ID (<sending log id>.<tag>@sender domain), each signed with an HMAC of the sending log id.
// A DSN is matched only through one of them, checked in constant time: ids are sequential, so without the
// tag anyone could fail any message (and quarantine its address) by guessing. Tags are lower-case hex,
// because some MTAs lower-case the local part of a return path. Both are stable per recipient, so a
// duplicate after a crash carries the same references.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { anyOf, type Secrets } from './secrets';

const TAG_LENGTH = 24; // hex digits: 96 bits

function tag(secret: string, use: 'verp' | 'message-id', sendingLogId: number): string {
  return createHmac('sha256', secret).update(`${use}|${sendingLogId}`).digest('hex').slice(0, TAG_LENGTH);
}

function sameTag(given: string, expected: string): boolean {
  const a = Buffer.from(given.toLowerCase());
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function verpAddress(secret: string, sendingLogId: number, bounceDomain: string): string {
  return `bounces+${sendingLogId}-${tag(secret, 'verp', sendingLogId)}@${bounceDomain}`;
}

export function signedMessageId(secret: string, sendingLogId: number, senderDomain: string): string {
  return `<${sendingLogId}.${tag(secret, 'message-id', sendingLogId)}@${senderDomain}>`;
}

const VERP = new RegExp(`^bounces\\+([1-9][0-9]{0,14})-([0-9a-f]{${TAG_LENGTH}})@`, 'i');
const MESSAGE_ID = new RegExp(`^<([1-9][0-9]{0,14})\\.([0-9a-f]{${TAG_LENGTH}})@[^<>\\s]+>$`, 'i');

/** The sending log a return path names, if its signature holds under one of the secrets (a rotation: secrets.ts). */
export function sendingLogOfReturnPath(secrets: Secrets, address: string): number | undefined {
  const m = VERP.exec(address.trim());
  return m && anyOf(secrets, (secret) => sameTag(m[2], tag(secret, 'verp', Number(m[1])))) ? Number(m[1]) : undefined;
}

/** The sending log a Message-ID names, if its signature holds under one of the secrets. */
export function sendingLogOfMessageId(secrets: Secrets, messageId: string): number | undefined {
  const m = MESSAGE_ID.exec(messageId.trim());
  return m && anyOf(secrets, (secret) => sameTag(m[2], tag(secret, 'message-id', Number(m[1])))) ? Number(m[1]) : undefined;
}

/** The sending log a DSN is about: its envelope recipient (VERP), else the returned Message-ID; undefined if neither is genuine. */
export function sendingLogOfBounce(secrets: Secrets, ref: { envelopeTo: string[]; originalMessageId?: string }): number | undefined {
  for (const to of ref.envelopeTo) {
    const id = sendingLogOfReturnPath(secrets, to);
    if (id !== undefined) return id;
  }
  return ref.originalMessageId === undefined ? undefined : sendingLogOfMessageId(secrets, ref.originalMessageId);
}
