// The ESPs' event webhooks (POST /esp/ses | sendgrid | mailgun | postmark) on the tracking server, the one public
// surface. A request is read up to a size limit (413 past it), checked the way its provider signs (401 and nothing
// changed when the signature, its freshness or the single use of its token fails: domain/esp-signatures.ts), then
// each event is applied to the message it names through our signed Message-ID (store/message-feedback.ts, shared with
// the bounce listener): delivered, bounce, complaint, unsubscription. Applying is conditional, so an event the
// provider delivers twice counts once; an event about a message whose outcome is still being recorded answers 503
// (the provider retries).
import type http from 'node:http';
import type { Client } from '@temporalio/client';
import { sendingLogOfMessageId } from '../domain/bounce-references';
import { qualifyBounce } from '../domain/dsn';
import { ESP_EVENTS, ESPS, type Esp, type EspEvent } from '../domain/esp-events';
import { checkMailgunSignature, checkPostmarkAuth, checkSendgridSignature, checkSnsSignature, isSnsUrl, type SnsMessage } from '../domain/esp-signatures';
import { DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE } from '../domain/quarantine';
import type { Secrets } from '../domain/secrets';
import { messageFeedback, type FeedbackOutcome } from '../store/message-feedback';
import type { Database } from '../store/prisma';
import { sendingLogs } from '../store/sending-logs';
import { retryTransient } from '../store/transient';
import { progressSignals } from '../temporal/progress-signals';
import { bodyOf, reply } from './responses';
import { snsFetcher, type SnsFetch } from './sns-fetch';

export const DEFAULT_MAX_WEBHOOK_BYTES = 1024 * 1024;

/** What each ESP's webhook needs to check its requests (an ESP without it is not served: 404). */
export interface EspWebhookConfig {
  /** Amazon SES through SNS: the topics whose notifications are ours (anyone can create a topic that SNS signs). */
  ses?: { topicArns: string[]; fetch?: SnsFetch };
  /** SendGrid's verification key (Settings → Mail Settings → Signed Event Webhook), base64. */
  sendgrid?: { publicKey: string };
  /** Mailgun's HTTP webhook signing key. */
  mailgun?: { signingKey: string };
  /** Postmark: the `user:password` written in the webhook URL (https://user:password@t.shop.example/esp/postmark). */
  postmark?: { credentials: string };
  maxBytes?: number;
}

export interface EspWebhookOptions {
  db: Database;
  client?: Client;
  secrets: Secrets;
  config: EspWebhookConfig;
  softErrorsBeforeQuarantine?: number;
  signalEveryMs?: number;
}

type Verdict = { status: number; text: string };

export function espWebhooks(options: EspWebhookOptions) {
  const { db, config, secrets } = options;
  const feedback = messageFeedback(db, { softErrorsBeforeQuarantine: options.softErrorsBeforeQuarantine ?? DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE });
  const logs = sendingLogs(db);
  const signals = progressSignals(options.client, options.signalEveryMs ?? 10_000);
  const maxBytes = config.maxBytes ?? DEFAULT_MAX_WEBHOOK_BYTES;
  const fetchSns = config.ses?.fetch ?? snsFetcher();
  const certificates = new Map<string, Promise<string>>();

  /** Applies one event to its message: the outcome, or undefined when it names no message of ours. */
  async function apply(event: EspEvent): Promise<FeedbackOutcome | undefined> {
    const id = event.messageIds.map((m) => sendingLogOfMessageId(secrets, m)).find((v) => v !== undefined);
    if (id === undefined) return undefined;
    const row = await feedback.sentMessage(id);
    if ('applied' in row) return row;
    if (event.recipient && event.recipient.toLowerCase() !== row.email.toLowerCase()) return { applied: false, why: 'nothing to apply' };
    switch (event.kind) {
      case 'bounce': return feedback.bounce(row, qualifyBounce({ finalRecipient: row.email, ...event.bounce! }));
      case 'complaint': return feedback.complaint(id);
      case 'unsubscribe': return feedback.unsubscribe(id, 'esp');
      default: return { applied: false, why: 'nothing to apply' }; // delivered: the relay's 250 already counted it
    }
  }

  async function applyAll(events: EspEvent[]): Promise<Verdict> {
    let applied = 0;
    let unknown = 0;
    let recording = false;
    for (const event of events) {
      const outcome = await apply(event);
      if (!outcome) unknown++;
      else if (outcome.applied) {
        applied++;
        signals.soon(outcome.deliveryId, async () => ({ phase: 'feedback', ...(await logs.sendingCounts(outcome.deliveryId)) }));
      } else if (outcome.why === 'being recorded') recording = true;
    }
    if (recording) return { status: 503, text: 'A message is still being recorded: send the events again later' };
    return { status: 200, text: JSON.stringify({ events: events.length, applied, notOurs: unknown }) };
  }

  const json = (body: Buffer): unknown => {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return undefined;
    }
  };

  function certificate(url: string): Promise<string> {
    let cert = certificates.get(url);
    if (!cert) {
      if (certificates.size >= 32) certificates.clear(); // AWS serves a handful; anything more is not worth keeping
      cert = fetchSns(url);
      certificates.set(url, cert);
      cert.catch(() => certificates.delete(url)); // a failed fetch is tried again by the next request
    }
    return cert;
  }

  async function ses(req: http.IncomingMessage, body: Buffer): Promise<Verdict> {
    const m = json(body) as SnsMessage | undefined;
    if (!m || typeof m !== 'object' || typeof m.Message !== 'string' || typeof m.Type !== 'string') return { status: 400, text: 'Not an SNS message' };
    if (!config.ses!.topicArns.includes(m.TopicArn)) return { status: 401, text: `Topic ${String(m.TopicArn)} is not one of SES_TOPIC_ARNS` };
    if (!isSnsUrl(m.SigningCertURL, 'certificate')) return { status: 401, text: 'SigningCertURL is not an https URL of sns.<region>.amazonaws.com' };
    const refused = checkSnsSignature(m, await certificate(m.SigningCertURL));
    if (refused) return { status: 401, text: `SNS signature refused: ${refused}` };
    if (m.Type === 'SubscriptionConfirmation') {
      if (!isSnsUrl(m.SubscribeURL, 'subscribe')) return { status: 401, text: 'SubscribeURL is not an https URL of sns.<region>.amazonaws.com' };
      await fetchSns(m.SubscribeURL!);
      return { status: 200, text: `Subscribed to ${m.TopicArn}` };
    }
    if (m.Type !== 'Notification') return { status: 200, text: `${m.Type}: nothing to apply` };
    return applyAll(ESP_EVENTS.ses(json(Buffer.from(m.Message))));
  }

  async function sendgrid(req: http.IncomingMessage, body: Buffer): Promise<Verdict> {
    const refused = checkSendgridSignature(config.sendgrid!.publicKey, body,
      header(req, 'x-twilio-email-event-webhook-signature'), header(req, 'x-twilio-email-event-webhook-timestamp'));
    if (refused) return { status: 401, text: `SendGrid signature refused: ${refused}` };
    return applyAll(ESP_EVENTS.sendgrid(json(body)));
  }

  async function mailgun(req: http.IncomingMessage, body: Buffer): Promise<Verdict> {
    const payload = json(body) as { signature?: { token?: unknown } } | undefined;
    const signature = payload?.signature ?? {};
    const refused = checkMailgunSignature(config.mailgun!.signingKey, signature);
    if (refused) return { status: 401, text: `Mailgun signature refused: ${refused}` };
    const token = String(signature.token);
    const seen = await retryTransient(() => db.webhookToken.findUnique({ where: { provider_token: { provider: 'mailgun', token } } }));
    if (seen) return { status: 401, text: 'Mailgun token already used: a replayed webhook' };
    const verdict = await applyAll(ESP_EVENTS.mailgun(payload));
    // Recorded once applied: a retry after a failure is still accepted, and applying is idempotent anyway.
    if (verdict.status === 200) await retryTransient(() => db.webhookToken.upsert({ where: { provider_token: { provider: 'mailgun', token } }, create: { provider: 'mailgun', token }, update: {} }));
    return verdict;
  }

  async function postmark(req: http.IncomingMessage, body: Buffer): Promise<Verdict> {
    const refused = checkPostmarkAuth(config.postmark!.credentials, header(req, 'authorization'));
    if (refused) return { status: 401, text: `Postmark authentication refused: ${refused}` };
    return applyAll(ESP_EVENTS.postmark(json(body)));
  }

  const HANDLERS: Record<Esp, (req: http.IncomingMessage, body: Buffer) => Promise<Verdict>> = { ses, sendgrid, mailgun, postmark };

  return {
    /** Whether this path is an ESP webhook this server serves. */
    serves(pathname: string): boolean {
      const esp = /^\/esp\/([a-z]+)$/.exec(pathname)?.[1] as Esp | undefined;
      return esp !== undefined && (ESPS as readonly string[]).includes(esp) && config[esp] !== undefined;
    },
    async handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void> {
      const esp = pathname.slice('/esp/'.length) as Esp;
      if (req.method !== 'POST') return reply(res, 405, 'Method not allowed', { Allow: 'POST' });
      const body = await bodyOf(req, maxBytes);
      if (!body) return reply(res, 413, `Too large: a webhook here is at most ${maxBytes} bytes`, { Connection: 'close' });
      const verdict = await HANDLERS[esp](req, body);
      reply(res, verdict.status, verdict.text, verdict.status === 503 ? { 'Retry-After': '30' } : {});
    },
    close: () => signals.close(),
  };
}

export type EspWebhooks = ReturnType<typeof espWebhooks>;

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
