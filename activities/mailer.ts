// SMTP sending through nodemailer's pooled transport, with outcomes the sending activity can record.
import net from 'node:net';
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import { connectionLost, qualifySmtpReply, type Failure } from '../domain/failures';

export interface OutgoingMessage {
  /** Envelope sender: the VERP return path for bounces, or the sender's address. */
  envelopeFrom: string;
  to: string;
  /** The whole MIME message (domain/mime.ts): nodemailer only carries it. */
  raw: string;
}

export type SendResult =
  | { status: 'sent' }
  | { status: 'failed'; failure: Failure }
  /** The relay could not be reached at all: nothing was handed over, try again later. */
  | { status: 'unavailable'; error: string };

const CANNOT_CONNECT = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|Connection timeout|Greeting never received/i;

export interface Mailer {
  readonly maxConnections: number;
  send(message: OutgoingMessage): Promise<SendResult>;
  close(): void;
}

export interface MailerOptions {
  url: string;
  maxConnections?: number;
}

export function createMailer({ url, maxConnections = 5 }: MailerOptions): Mailer {
  // maxRequeues is a pool option @types/nodemailer does not list.
  const options: SMTPPool.Options & { maxRequeues: number } = {
    // Parsed here: nodemailer ignores every other option (pool, maxConnections, getSocket…) when
    // given `url`, and opened one connection per message without a limit until this was found.
    ...parseConnectionUrl(url),
    pool: true,
    maxConnections,
    maxMessages: Infinity, // reuse connections: a new TLS/SMTP handshake per 100 messages is pure overhead
    // A message whose connection closed mid-send is ours to retry (a soft failure, logged as such), not the
    // pool's: nodemailer would otherwise queue it again without end, and the sending waited on it forever
    // while the relay was down.
    maxRequeues: 0,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
    getSocket: noDelaySocket,
  };
  const transport = nodemailer.createTransport(options);
  return {
    maxConnections,
    async send(message) {
      try {
        const info = await transport.sendMail({ envelope: { from: message.envelopeFrom, to: message.to }, raw: message.raw });
        if (info.rejected.length > 0) {
          return { status: 'failed', failure: qualifySmtpReply(550, String(info.response ?? 'recipient rejected')) };
        }
        return { status: 'sent' };
      } catch (e) {
        const err = e as { responseCode?: number; response?: string; message?: string; code?: string };
        if (typeof err.responseCode === 'number' && err.responseCode >= 400) {
          return { status: 'failed', failure: qualifySmtpReply(err.responseCode, err.response ?? err.message ?? '') };
        }
        const detail = `${err.code ?? 'error'}: ${err.message ?? String(e)}`;
        // No connection could be opened: the relay is down. Otherwise the connection broke while this
        // message was being sent: a soft failure of this message, retried like any other.
        if (CANNOT_CONNECT.test(detail)) return { status: 'unavailable', error: detail };
        return { status: 'failed', failure: connectionLost(detail) };
      }
    },
    close() {
      transport.close();
    },
  };
}

/**
 * Opens the pool's connections with TCP_NODELAY. nodemailer leaves Nagle's algorithm on, so the last small
 * write of each message (the final ".") waits for the relay's delayed ACK: about 40 ms per message per
 * connection. Measured with 20 connections to Postfix's smtp-sink: 411 msg/s with Nagle, 1,623 without.
 * The socket is handed over while still connecting: a refused connection must fail as a connection error
 * of nodemailer's own (which removes the connection from the pool); failing it here left a dead connection
 * counted in the pool, which then never opened another one and held its queued messages forever.
 * TLS (smtps, STARTTLS) is still set up by nodemailer over this socket.
 */
export function noDelaySocket(
  options: { host?: string; port?: number; secure?: boolean },
  callback: (err: Error | null, socketOptions?: { connection: net.Socket }) => void,
): void {
  callback(null, { connection: net.connect({ host: options.host ?? 'localhost', port: options.port ?? (options.secure ? 465 : 587), noDelay: true }) });
}

/** Hides credentials when an SMTP URL is shown in logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
