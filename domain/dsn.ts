// Delivery status notifications (RFC 3464): what a bounce says, and which message it is about.
import { qualifySmtpReply, type Failure } from './failures';
import { qualifyReply, type ReplyParty } from './smtp-replies';

export interface DsnRecipient {
  finalRecipient: string;
  action: string;
  status: string;
  diagnostic?: string;
}

export interface ReportParts {
  /** The message/delivery-status part. */
  deliveryStatus?: string;
  /** The returned message or its headers (text/rfc822-headers or message/rfc822). */
  original?: string;
}

/**
 * Splits a multipart/report DSN into the parts a bounce handler reads. DSN parts are plain 7-bit
 * text, so a boundary split is enough (general MIME parsers fold delivery-status into the body text).
 */
export function reportParts(raw: string): ReportParts {
  const { headers, body } = splitHeaders(raw);
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!/multipart\/report/i.test(headers['content-type'] ?? '') || !boundary) return {};
  const parts: ReportParts = {};
  for (const chunk of body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const part = splitHeaders(chunk.replace(/^\r?\n/, ''));
    const type = (part.headers['content-type'] ?? 'text/plain').split(';')[0].trim().toLowerCase();
    if (type === 'message/delivery-status' || type === 'message/global-delivery-status') parts.deliveryStatus = part.body;
    else if (type === 'text/rfc822-headers' || type === 'message/rfc822') parts.original = part.body;
  }
  return parts;
}

function splitHeaders(text: string): { headers: Record<string, string>; body: string } {
  const normalized = text.replace(/\r\n/g, '\n');
  const end = normalized.indexOf('\n\n');
  const head = end < 0 ? normalized : normalized.slice(0, end);
  return { headers: parseFields(head.replace(/\n[ \t]+/g, ' ')), body: end < 0 ? '' : normalized.slice(end + 2) };
}

/** Parses the message/delivery-status part: per-message fields, then one block per recipient. */
export function parseDeliveryStatus(text: string): DsnRecipient[] {
  const blocks = text.replace(/\r\n/g, '\n').replace(/\n[ \t]+/g, ' ').split(/\n\s*\n/).map(parseFields);
  return blocks
    .filter((f) => f['final-recipient'] && f.action && f.status)
    .map((f) => ({
      finalRecipient: f['final-recipient'].replace(/^[^;]*;\s*/, '').replace(/^<|>$/g, '').trim(),
      action: f.action.toLowerCase().trim(),
      status: f.status.trim().split(/\s/)[0],
      ...(f['diagnostic-code'] ? { diagnostic: f['diagnostic-code'].replace(/^[^;]*;\s*/, '').trim() } : {}),
    }));
}

function parseFields(block: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of block.split('\n')) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
    if (m) fields[m[1].toLowerCase()] = m[2];
  }
  return fields;
}

export type BounceKind = 'hard' | 'soft' | 'none';

export interface Bounce {
  kind: BounceKind;
  failure?: Failure;
  /**
   * Whose problem (smtp-replies.ts): only the recipient's counts against the address. A refusal for the sender
   * (authentication, reputation, content) or a relay's trouble fails the message (type ignored) and nothing else.
   */
  party?: ReplyParty;
}

/** A failed permanent status is a hard bounce; a delayed or temporary one is a soft bounce. */
export function qualifyBounce(r: DsnRecipient): Bounce {
  if (r.action !== 'failed' && r.action !== 'delayed') return { kind: 'none' };
  const permanent = r.action === 'failed' && r.status.startsWith('5');
  const kind = permanent ? 'hard' : 'soft';
  const code = Number(/\b([45]\d\d)\b/.exec(r.diagnostic ?? '')?.[1] ?? (permanent ? 550 : 450));
  const reply = `${r.status} ${r.diagnostic ?? ''}`.trim();
  const said = qualifyReply(code, reply, 'dsn');
  if (said.party !== 'recipient') return { kind, party: said.party, failure: { type: 'ignored', reason: said.reason } };
  const failure = qualifySmtpReply(code, reply);
  return { kind, party: 'recipient', failure: { ...failure, type: kind } };
}
