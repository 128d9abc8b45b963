// Events of the email service providers our users relay through (Amazon SES, SendGrid, Mailgun, Postmark), each in
// the provider's documented webhook payload, brought to one shape: which of our messages (named only by what we
// signed: our Message-ID, carried back in the provider's own field or in the tag header we set when sending), and what
// happened to it. A bounce is qualified by the same table as an SMTP reply (domain/dsn.ts), so a provider's
// "550 5.1.1 user unknown" fails and quarantines like a DSN saying it, and a refusal for the sender never does.
import type { DsnRecipient } from './dsn';

export const ESPS = ['ses', 'sendgrid', 'mailgun', 'postmark'] as const;
export type Esp = (typeof ESPS)[number];

/** The tag we set when sending through an ESP whose events do not carry the Message-ID (RELAY_ESP). */
export const ESP_TAG = 'delivery-ref';

export type EspEventKind = 'delivered' | 'bounce' | 'complaint' | 'unsubscribe' | 'other';

export interface EspEvent {
  kind: EspEventKind;
  /** Our signed Message-ID candidates (angle brackets added), in the order to try them. */
  messageIds: string[];
  /** The recipient the event is about (checked against the message's own). */
  recipient?: string;
  /** A bounce as a DSN would state it: `failed` for a permanent one, `delayed` for a temporary one. */
  bounce?: Pick<DsnRecipient, 'action' | 'status' | 'diagnostic'>;
}

/** The headers to add to every message sent through this ESP, so that its events name the message. */
export function espTagHeaders(esp: Esp | undefined, messageId: string): Record<string, string> {
  switch (esp) {
    case 'sendgrid': return { 'X-SMTPAPI': JSON.stringify({ unique_args: { [ESP_TAG]: messageId } }) };
    case 'mailgun': return { 'X-Mailgun-Variables': JSON.stringify({ [ESP_TAG]: messageId }) };
    case 'postmark': return { [`X-PM-Metadata-${ESP_TAG}`]: messageId };
    default: return {}; // SES returns the original headers in its notifications
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const bracketed = (v: string | undefined): string[] => (v ? [v.startsWith('<') ? v : `<${v}>`] : []);
const ids = (...vs: Array<string | undefined>) => [...new Set(vs.flatMap(bracketed))];

/** "5.1.1" from "smtp; 550 5.1.1 …" or a status field; the class digit alone when that is all there is. */
function statusOf(text: string | undefined, permanent: boolean): string {
  return /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text ?? '')?.[1] ?? (permanent ? '5.0.0' : '4.0.0');
}

function bounceOf(permanent: boolean, diagnostic: string | undefined, status?: string): EspEvent['bounce'] {
  return { action: permanent ? 'failed' : 'delayed', status: status && /^[245]\.\d/.test(status) ? status : statusOf(diagnostic, permanent), diagnostic };
}

/** One SES notification (the SNS message's `Message`, parsed): bounce, complaint or delivery, per recipient. */
export function sesEvents(message: unknown): EspEvent[] {
  const m = obj(message);
  const type = str(m.notificationType) ?? str(m.eventType);
  const mail = obj(m.mail);
  const headers = Array.isArray(mail.headers) ? mail.headers.map(obj) : [];
  const messageIds = ids(
    ...headers.filter((h) => str(h.name)?.toLowerCase() === 'message-id').map((h) => str(h.value)),
    str(obj(mail.commonHeaders).messageId),
  );
  if (type === 'Bounce') {
    const b = obj(m.bounce);
    const permanent = str(b.bounceType) === 'Permanent';
    const recipients = Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients.map(obj) : [];
    return recipients.map((r) => ({ kind: 'bounce', messageIds, recipient: str(r.emailAddress), bounce: bounceOf(permanent, str(r.diagnosticCode), str(r.status)) }));
  }
  if (type === 'Complaint') {
    const c = obj(m.complaint);
    // A complaint whose feedback type says it is not spam changes nothing (RFC 5965 types, as SES passes them).
    if (str(c.complaintFeedbackType) === 'not-spam') return [];
    const recipients = Array.isArray(c.complainedRecipients) ? c.complainedRecipients.map(obj) : [];
    return recipients.map((r) => ({ kind: 'complaint', messageIds, recipient: str(r.emailAddress) }));
  }
  if (type === 'Delivery') {
    const recipients = Array.isArray(obj(m.delivery).recipients) ? (obj(m.delivery).recipients as unknown[]) : [];
    return recipients.map((r) => ({ kind: 'delivered', messageIds, recipient: str(r) }));
  }
  return [{ kind: 'other', messageIds }];
}

/** SendGrid's event webhook: an array of events. */
export function sendgridEvents(body: unknown): EspEvent[] {
  if (!Array.isArray(body)) return [];
  return body.map(obj).map((e): EspEvent => {
    const messageIds = ids(str(e[ESP_TAG]), str(e['smtp-id']));
    const recipient = str(e.email);
    switch (str(e.event)) {
      case 'delivered': return { kind: 'delivered', messageIds, recipient };
      // "bounce" is a permanent refusal ("blocked" type included: its reason says whose problem it is)
      case 'bounce': return { kind: 'bounce', messageIds, recipient, bounce: bounceOf(true, str(e.reason), str(e.status)) };
      case 'deferred': return { kind: 'bounce', messageIds, recipient, bounce: bounceOf(false, str(e.response) ?? str(e.reason)) };
      case 'spamreport': return { kind: 'complaint', messageIds, recipient };
      case 'unsubscribe': case 'group_unsubscribe': return { kind: 'unsubscribe', messageIds, recipient };
      default: return { kind: 'other', messageIds, recipient };
    }
  });
}

/** Mailgun's webhook: one event in `event-data`. */
export function mailgunEvents(body: unknown): EspEvent[] {
  const e = obj(obj(body)['event-data']);
  const messageIds = ids(str(obj(e['user-variables'])[ESP_TAG]), str(obj(obj(e.message).headers)['message-id']));
  const recipient = str(e.recipient);
  const status = obj(e['delivery-status']);
  const diagnostic = [status.code, str(status.message) ?? str(status.description)].filter((v) => v !== undefined && v !== '').join(' ') || undefined;
  switch (str(e.event)) {
    case 'delivered': return [{ kind: 'delivered', messageIds, recipient }];
    case 'failed': return [{ kind: 'bounce', messageIds, recipient, bounce: bounceOf(str(e.severity) === 'permanent', diagnostic) }];
    case 'complained': return [{ kind: 'complaint', messageIds, recipient }];
    case 'unsubscribed': return [{ kind: 'unsubscribe', messageIds, recipient }];
    default: return [{ kind: 'other', messageIds, recipient }];
  }
}

/** Postmark's webhooks: one record per request (RecordType). */
export function postmarkEvents(body: unknown): EspEvent[] {
  const e = obj(body);
  const messageIds = ids(str(obj(e.Metadata)[ESP_TAG]));
  switch (str(e.RecordType)) {
    case 'Delivery': return [{ kind: 'delivered', messageIds, recipient: str(e.Recipient) }];
    case 'Bounce': {
      // HardBounce and BadEmailAddress are permanent; SoftBounce, Transient, DnsError… are temporary.
      const permanent = ['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated', 'SpamNotification', 'Blocked'].includes(str(e.Type) ?? '');
      return [{ kind: 'bounce', messageIds, recipient: str(e.Email), bounce: bounceOf(permanent, str(e.Details) ?? str(e.Description)) }];
    }
    case 'SpamComplaint': return [{ kind: 'complaint', messageIds, recipient: str(e.Email) }];
    case 'SubscriptionChange': {
      const unsubscribed = e.SuppressSending === true && str(e.SuppressionReason) === 'ManualSuppression';
      return [{ kind: unsubscribed ? 'unsubscribe' : 'other', messageIds, recipient: str(e.Recipient) }];
    }
    default: return [{ kind: 'other', messageIds }];
  }
}

export const ESP_EVENTS: Record<Esp, (body: unknown) => EspEvent[]> = { ses: sesEvents, sendgrid: sendgridEvents, mailgun: mailgunEvents, postmark: postmarkEvents };
