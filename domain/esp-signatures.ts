// How each ESP proves that a webhook is its own, checked the way the provider documents it, with node:crypto (never
// our own crypto): Amazon SNS signs a canonical string of the message with the key of a certificate it serves from
// sns.<region>.amazonaws.com (SignatureVersion 1: RSA-SHA1, 2: RSA-SHA256); SendGrid signs timestamp + raw body with
// ECDSA P-256; Mailgun sends an HMAC-SHA256 of timestamp + token under the account's signing key; Postmark sends the
// basic-auth credentials written in the webhook's URL. Each returns the reason of a refusal, or undefined.
import { createHmac, createPublicKey, timingSafeEqual, verify, X509Certificate } from 'node:crypto';

/** A signed webhook older (or further in the future) than this is refused: a captured one cannot be replayed later. */
export const MAX_WEBHOOK_AGE_MS = 10 * 60_000;
/** SNS retries a notification for up to an hour by default, each retry with the original timestamp and signature. */
export const MAX_SNS_AGE_MS = 60 * 60_000;

function fresh(atMs: number, now: number, maxAgeMs: number): string | undefined {
  if (!Number.isFinite(atMs)) return 'no valid timestamp';
  return Math.abs(now - atMs) > maxAgeMs ? `timestamp ${new Date(atMs).toISOString()} is more than ${maxAgeMs / 60_000} minutes away` : undefined;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface SnsMessage {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
}

/** The SNS certificate and subscription URLs we follow: https on sns.<region>.amazonaws.com(.cn) only. */
export function isSnsUrl(url: string | undefined, kind: 'certificate' | 'subscribe'): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && u.port === '' && /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(u.hostname) && (kind === 'subscribe' || u.pathname.endsWith('.pem'));
  } catch {
    return false;
  }
}

/** The canonical string SNS signs (its documentation's field lists per message type). */
export function snsStringToSign(m: SnsMessage): string {
  const fields = m.Type === 'Notification'
    ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields.map((f) => `${f}\n${String(m[f as keyof SnsMessage] ?? '')}\n`).join('');
}

export function checkSnsSignature(m: SnsMessage, certificatePem: string, now = Date.now()): string | undefined {
  const algorithm = m.SignatureVersion === '1' ? 'RSA-SHA1' : m.SignatureVersion === '2' ? 'RSA-SHA256' : undefined;
  if (!algorithm) return `unknown SignatureVersion "${m.SignatureVersion}"`;
  const stale = fresh(Date.parse(m.Timestamp), now, MAX_SNS_AGE_MS);
  if (stale) return stale;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch {
    return 'the signing certificate is not a certificate';
  }
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) return 'the signing certificate is expired or not yet valid';
  const ok = verify(algorithm, Buffer.from(snsStringToSign(m)), cert.publicKey, Buffer.from(m.Signature ?? '', 'base64'));
  return ok ? undefined : 'signature does not verify';
}

/** SendGrid's signed event webhook: ECDSA (SHA-256) over timestamp + raw body, the public key from its settings (base64 DER). */
export function checkSendgridSignature(publicKeyBase64: string, rawBody: Buffer, signature: string | undefined, timestamp: string | undefined, now = Date.now()): string | undefined {
  if (!signature || !timestamp) return 'missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp';
  const stale = fresh(Number(timestamp) * 1000, now, MAX_WEBHOOK_AGE_MS);
  if (stale) return stale;
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
  const ok = verify('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), key, Buffer.from(signature, 'base64'));
  return ok ? undefined : 'signature does not verify';
}

/** Mailgun: HMAC-SHA256(signing key, timestamp + token), hex. The token's single use is the caller's (a table). */
export function checkMailgunSignature(signingKey: string, s: { timestamp?: unknown; token?: unknown; signature?: unknown }, now = Date.now()): string | undefined {
  if (typeof s.timestamp !== 'string' || typeof s.token !== 'string' || typeof s.signature !== 'string') return 'missing signature.timestamp, token or signature';
  const stale = fresh(Number(s.timestamp) * 1000, now, MAX_WEBHOOK_AGE_MS);
  if (stale) return stale;
  const expected = createHmac('sha256', signingKey).update(s.timestamp + s.token).digest('hex');
  return sameSecret(s.signature.toLowerCase(), expected) ? undefined : 'signature does not verify';
}

/** Postmark: the credentials of the webhook's URL, as an Authorization: Basic header. */
export function checkPostmarkAuth(credentials: string, authorization: string | undefined): string | undefined {
  const given = /^Basic\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!given) return 'missing basic authentication';
  return sameSecret(Buffer.from(given, 'base64').toString('utf8'), credentials) ? undefined : 'wrong credentials';
}
