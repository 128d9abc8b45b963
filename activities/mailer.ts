// Sending one prepared message, and what its outcome means: the recipient's failure, a relay fault (the
// message never reached the relay), or an unknown fate (the connection was lost after the content went out).
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import type { Failure } from '../domain/failures';
import { judgeSmtpError, type RelayFault } from '../domain/smtp-faults';
import { withoutAddresses } from '../domain/smtp-replies';
import type { ShapingRule } from '../domain/shaping-rules';
import { smtpPool, SmtpFailure } from './smtp-pool';

export interface OutgoingMessage {
  /** Envelope sender: the VERP return path for bounces, or the sender's address. */
  envelopeFrom: string;
  to: string;
  /** The whole MIME message (domain/mime.ts): the SMTP connection only carries it. */
  raw: string;
}

export type SendResult =
  | { status: 'sent' }
  /** Refused for this recipient (RCPT TO, or the end-of-data reply about this message). */
  | { status: 'failed'; failure: Failure }
  /** Refused for the sender (authentication, reputation, content): not the address's fault; retried when temporary. */
  | { status: 'refused for the sender'; failure: Failure; temporary: boolean }
  /** Never reached the relay: withdrawn before a connection took it (no fault), or a relay fault. */
  | { status: 'unsent'; fault?: RelayFault }
  /** The connection was lost after the content went out: the relay may have taken it. */
  | { status: 'unknown'; failure: Failure }
  /** A provider asked us to slow down or wait (a traffic shaping rule matched its reply): not sent, nobody's failure. */
  | { status: 'throttled'; rule: ShapingRule; reply: string };

/** The traffic shaping rule a temporary reply about this message matches, if any. */
export type ShapingMatch = (code: number, reply: string) => ShapingRule | undefined;

export interface Mailer {
  readonly maxConnections: number;
  /**
   * `withdraw` gives back a message still waiting for a connection (pause, stop, a fault elsewhere); `shaping` tells
   * the replies to RCPT TO and to the data that ask to slow down.
   */
  send(message: OutgoingMessage, withdraw?: AbortSignal, shaping?: ShapingMatch): Promise<SendResult>;
  close(): void;
}

export interface MailerOptions {
  url: string;
  maxConnections?: number;
}

export function createMailer({ url, maxConnections = 5 }: MailerOptions): Mailer {
  const { auth, ...connection } = parseConnectionUrl(url) as ReturnType<typeof parseConnectionUrl> & { auth?: { user: string; pass: string } };
  const pool = smtpPool({
    connection: { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 60_000, ...connection },
    auth: auth?.user ? { user: auth.user, pass: auth.pass } : undefined,
    maxConnections,
  });
  return {
    maxConnections,
    async send(message, withdraw, shaping) {
      try {
        const done = await pool.send({ from: message.envelopeFrom, to: message.to }, message.raw, withdraw);
        return done === 'sent' ? { status: 'sent' } : { status: 'unsent' };
      } catch (e) {
        if (!(e instanceof SmtpFailure)) throw e;
        const { step, code, text } = e.error;
        const rule = shaping && code !== undefined && (step === 'rcpt to' || step === 'end of data') ? shaping(code, text) : undefined;
        if (rule) return { status: 'throttled', rule, reply: withoutAddresses(text.replace(/\s+/g, ' ').trim().slice(0, 300)) };
        const verdict = judgeSmtpError(e.error);
        if (verdict.charge === 'recipient') return { status: 'failed', failure: verdict.failure };
        if (verdict.charge === 'sender') return { status: 'refused for the sender', failure: verdict.failure, temporary: verdict.temporary };
        if (verdict.charge === 'relay') return { status: 'unsent', fault: verdict.fault };
        return { status: 'unknown', failure: verdict.failure };
      }
    },
    close() {
      pool.close();
    },
  };
}

/** Hides credentials when an SMTP URL is shown in logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
