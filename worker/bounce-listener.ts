// The bounce listener: the SMTP server to which BOUNCE_DOMAIN's MX delivers delivery status notifications
// (RFC 3464). It is reachable from outside, so it trusts nothing a DSN says until its reference checks out:
// - a DSN names its message only through the signed VERP return path or the signed Message-ID
//   (domain/bounce-references.ts); anything else is refused (550) and changes nothing;
// - each (message, final status) counts once: a replayed DSN changes nothing;
// - a DSN larger than the limit is refused while it is received (552), and memory stays flat;
// - a DSN about a message handed to SMTP whose outcome is not recorded yet is held until it is (a relay may
//   bounce within milliseconds of its 250), or answered 451 so that the MTA tries again: never dropped.
// It also takes the feedback-loop reports (ARF, RFC 5965) that mailbox providers send when a recipient marks a
// message as spam: matched the same way (signed references only), the address is opted out (source `complaint`)
// and the message counts once in the Complaints KPI.
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDeliveryStatus, qualifyBounce, reportParts } from '../domain/dsn';
import { COMPLAINT_TYPES, parseFeedbackReport } from '../domain/feedback-report';
import { messageFeedback } from '../store/message-feedback';
import type { Secrets } from '../domain/secrets';
import { sendingLogOfBounce, sendingLogOfReturnPath } from '../domain/bounce-references';
import type { Database } from '../store/prisma';
import { sendingLogs } from '../store/sending-logs';
import { progressSignals } from '../temporal/progress-signals';

/** A DSN is a few kilobytes (headers of the original, not its body, are what we read). */
export const DEFAULT_MAX_DSN_BYTES = 1024 * 1024;
/** How long a DSN waits for the outcome of its message to be recorded before the MTA is asked to retry. */
const DEFAULT_HOLD_MS = 5_000;

export interface BounceListenerOptions {
  db: Database;
  client: Client;
  port: number;
  /** Interface to listen on (BOUNCE_HOST); default loopback, put a relay or a firewall in front. */
  host?: string;
  softErrorsBeforeQuarantine: number;
  /** The keys the references were signed with (TRACKING_SECRET, shared by workers and tracking servers; a rotation: all of them). */
  secret: Secrets;
  maxMessageBytes?: number;
  holdMs?: number;
  /** A delivery's KPIs are signalled at most this often (ms, default 10 s: each signal is a history event). */
  signalEveryMs?: number;
}

/** What one DSN did: applied (250), refused for good (5xx), or to be tried again (451). */
export interface BounceVerdict {
  code: 250 | 451 | 550 | 552;
  message: string;
  /** What was applied per DSN recipient (a complaint: its message). */
  applied: Array<{ sendingLogId: number; kind: 'hard' | 'soft' | 'complaint' }>;
}

export interface BounceListener {
  port: number;
  url: string;
  /** Judges and applies one raw DSN as the SMTP server does (tests, tools). */
  handle(raw: Buffer, envelopeTo: string[]): Promise<BounceVerdict>;
  close(): Promise<void>;
}

export async function startBounceListener(options: BounceListenerOptions): Promise<BounceListener> {
  const { db, client, secret } = options;
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_DSN_BYTES;
  const holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
  const logs = sendingLogs(db);

  // KPIs reach the workflow at most every signalEveryMs per delivery, however many DSNs arrive (and again once
  // Temporal is back); a delivery that ended keeps its bounces in the database.
  const signals = progressSignals(client, options.signalEveryMs ?? 10_000);
  const feedbackSoon = (deliveryId: string) => signals.soon(deliveryId, async () => ({ phase: 'feedback', ...(await logs.sendingCounts(deliveryId)) }));

  const verdict = (code: BounceVerdict['code'], message: string, applied: BounceVerdict['applied'] = []): BounceVerdict => ({ code, message, applied });

  const feedback = messageFeedback(db, options);

  /** A spam complaint (ARF): its message must be one of ours, named by a signed reference, and sent. */
  async function complaint(raw: Buffer, envelopeTo: string[]): Promise<BounceVerdict | undefined> {
    const report = await parseFeedbackReport(raw);
    if (!report) return undefined;
    const returnPaths = [...envelopeTo, report.originalMailFrom, report.original.returnPath].filter((a): a is string => a !== undefined);
    const id = sendingLogOfBounce(secret, { envelopeTo: returnPaths, originalMessageId: report.original.messageId });
    if (id === undefined) return verdict(550, '5.7.1 Not a report about a message sent from here: no genuine return path or Message-ID');
    if (!(COMPLAINT_TYPES as readonly string[]).includes(report.feedbackType)) return verdict(250, `2.0.0 Accepted (feedback type ${report.feedbackType}: nothing to apply)`);
    const outcome = await feedback.complaint(id);
    if (outcome.applied) {
      feedbackSoon(outcome.deliveryId);
      return verdict(250, '2.0.0 Complaint applied: the address is opted out', [{ sendingLogId: id, kind: 'complaint' }]);
    }
    if (outcome.why === 'unknown message') return verdict(550, '5.1.1 Unknown message');
    if (outcome.why === 'being recorded') return verdict(451, '4.3.0 The message is still being recorded: try again later');
    return verdict(250, `2.0.0 Accepted (${outcome.why}: nothing to apply)`);
  }

  async function handle(raw: Buffer, envelopeTo: string[]): Promise<BounceVerdict> {
    const complained = await complaint(raw, envelopeTo);
    if (complained) return complained;
    const { deliveryStatus, original = '' } = reportParts(raw.toString('utf8'));
    const originalMessageId = /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(original)?.[1];
    const id = sendingLogOfBounce(secret, { envelopeTo, originalMessageId });
    if (id === undefined) return verdict(550, '5.7.1 Not a bounce of a message sent from here: no genuine return path or Message-ID');
    if (!deliveryStatus) return verdict(250, '2.0.0 Accepted (not a delivery status notification: nothing to apply)');
    // Handed to SMTP, its outcome not recorded yet: hold the DSN until it is.
    let row = await feedback.sentMessage(id);
    for (const until = Date.now() + holdMs; 'applied' in row && row.why === 'being recorded' && Date.now() < until;) {
      await sleep(50);
      row = await feedback.sentMessage(id);
    }
    if ('applied' in row) {
      if (row.why === 'unknown message') return verdict(550, '5.1.1 Unknown message');
      if (row.why === 'being recorded') return verdict(451, '4.3.0 The message is still being recorded: try again later');
      return verdict(250, '2.0.0 Accepted (the relay never accepted this message: nothing to apply)');
    }
    const message = row;
    const applied: BounceVerdict['applied'] = [];
    // Only what the DSN says about this message's own recipient (a forwarded copy may report others).
    for (const recipient of parseDeliveryStatus(deliveryStatus).filter((r) => r.finalRecipient.toLowerCase() === message.email.toLowerCase())) {
      const bounce = qualifyBounce(recipient);
      // Conditional on not having counted this final status for this message yet: a replay changes nothing.
      if (!(await feedback.bounce(message, bounce)).applied) continue;
      if (bounce.kind === 'hard') feedbackSoon(message.deliveryId);
      applied.push({ sendingLogId: id, kind: bounce.kind as 'hard' | 'soft' });
    }
    return verdict(250, applied.length ? '2.0.0 Bounce applied' : '2.0.0 Accepted (already counted, or nothing to apply)', applied);
  }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    banner: 'bounce listener',
    size: maxBytes, // announced in EHLO and checked against MAIL FROM SIZE=
    maxClients: 100,
    onRcptTo(address, _session, callback) {
      // A return path of ours with a wrong signature is refused at once; others are judged on the whole DSN.
      if (/^bounces\+/i.test(address.address) && sendingLogOfReturnPath(secret, address.address) === undefined) {
        return callback(smtpError(550, '5.1.1 No such return path'));
      }
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBytes) chunks.push(chunk); // past the limit the rest is read and dropped
      });
      stream.on('end', () => {
        if (size > maxBytes) return callback(smtpError(552, `5.3.4 Message too big: a DSN here is at most ${maxBytes} bytes`));
        handle(Buffer.concat(chunks), session.envelope.rcptTo.map((r) => r.address)).then(
          (v) => (v.code === 250 ? callback(null, v.message) : callback(smtpError(v.code, v.message))),
          (e: Error) => callback(smtpError(451, `4.3.0 Temporary failure: ${e.message.slice(0, 100)}`)),
        );
      });
    },
  });
  server.on('error', () => undefined); // a client dropping its connection is not the listener's failure
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `smtp://${host}:${port}`,
    handle,
    async close() {
      await signals.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}
