// A pool of SMTP connections for prepared raw messages, on nodemailer's SMTPConnection. Not nodemailer's own
// pool: to tell a relay fault from a recipient's, each error must come with the step it answered (connecting,
// greeting, TLS, login, or this message's MAIL FROM / RCPT TO / DATA) and, when a connection is lost, whether
// this message's content had gone out. nodemailer's pool reports a connection's error to whichever message
// waits on it, re-queues messages by itself, and builds a MIME tree for every raw message.
import net from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmtpError, SmtpStep } from '../domain/smtp-faults';
import { canPipeline, sendPipelined, type NodemailerError } from './smtp-pipelining';

export interface SmtpPoolOptions {
  /** nodemailer's connection options (host, port, secure, tls, timeouts…), from the SMTP URL. */
  connection: SMTPConnection.Options;
  auth?: SMTPConnection.Credentials;
  maxConnections: number;
}

/** A message that could not be sent, with what the relay (or the network) said and at which step. */
export class SmtpFailure extends Error {
  constructor(readonly error: SmtpError) {
    super(`${error.step}: ${error.text}`);
  }
}

export interface SmtpPool {
  /**
   * Sends one message on the first free connection (first come, first served). `withdraw`, once aborted,
   * gives back a message no connection has taken yet: it is then not sent ('withdrawn'). Throws SmtpFailure.
   */
  send(envelope: { from: string; to: string }, raw: string, withdraw?: AbortSignal): Promise<'sent' | 'withdrawn'>;
  close(): void;
}

/** An SMTPConnection that knows whether its current message's content went out in full (final "." included). */
class MessageConnection extends SMTPConnection {
  contentSent = false;
  dead = false;
  reused = false;
}
// nodemailer creates each message's DATA stream in _createSendStream, once the relay answered DATA with 354;
// the stream ends when the content and the final "." were written to the socket. Not in its typed API: the
// version is pinned and test/unit/mailer.test.ts covers it against a real server (a cut before and a reply lost after the content).
const prototype = MessageConnection.prototype as unknown as { _createSendStream(this: MessageConnection, done: unknown): NodeJS.EventEmitter };
const createSendStream = prototype._createSendStream;
prototype._createSendStream = function (done) {
  const stream = createSendStream.call(this, done);
  stream.once('end', () => {
    this.contentSent = true;
  });
  return stream;
};

export function smtpPool({ connection: options, auth, maxConnections }: SmtpPoolOptions): SmtpPool {
  const idle: MessageConnection[] = [];
  const waiting: Array<() => void> = [];
  let free = maxConnections;
  let closed = false;

  /** A connection slot (at most maxConnections in use), or false when withdrawn while waiting. */
  function acquire(withdraw?: AbortSignal): Promise<boolean> {
    if (withdraw?.aborted) return Promise.resolve(false);
    if (free > 0) {
      free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const take = () => {
        withdraw?.removeEventListener('abort', giveUp);
        resolve(true);
      };
      const giveUp = () => {
        const i = waiting.indexOf(take);
        if (i >= 0) waiting.splice(i, 1);
        resolve(false);
      };
      waiting.push(take);
      withdraw?.addEventListener('abort', giveUp, { once: true });
    });
  }
  function release(): void {
    const next = waiting.shift();
    if (next) next();
    else free++;
  }

  function connect(): Promise<MessageConnection> {
    return new Promise((resolve, reject) => {
      const conn = new MessageConnection({ ...options, connection: noDelaySocket(options) } as SMTPConnection.Options);
      let settled = false;
      const fail = (err: NodemailerError) => {
        if (settled) return;
        settled = true;
        conn.close();
        reject(new SmtpFailure(smtpErrorOf(err, 'connect', false)));
      };
      const closedEarly = () => fail({ code: 'ECONNECTION', message: 'Connection closed by the relay' });
      conn.once('error', fail);
      conn.once('end', closedEarly);
      const ready = () => {
        if (settled) return;
        settled = true;
        conn.off('error', fail);
        conn.off('end', closedEarly);
        // An idle connection the relay closes is not an error of any message: it is only left out.
        conn.on('error', () => void (conn.dead = true));
        conn.on('end', () => void (conn.dead = true));
        resolve(conn);
      };
      conn.connect(() => {
        // Like nodemailer, log in only where the relay offers AUTH (or it refuses MAIL FROM with 530).
        if (!auth || !(conn as unknown as { allowsAuth: boolean }).allowsAuth) return ready();
        conn.login({ credentials: auth }, (err) => (err ? fail(err) : ready()));
      });
    });
  }

  function deliver(conn: MessageConnection, envelope: { from: string; to: string }, raw: string): Promise<void> {
    conn.contentSent = false;
    return new Promise((resolve, reject) => {
      let refusedSoFar: (() => NodemailerError | undefined) | undefined;
      const fail = (failure: NodemailerError) => {
        // A connection lost after a pipelined step was refused: the refusal is what to report.
        const err = (!failure.responseCode && refusedSoFar?.()) || failure;
        conn.off('error', fail);
        conn.off('end', lost);
        conn.dead ||= !err.responseCode || err.responseCode === 421 || conn.destroyed; // 421: the relay closes the channel
        reject(new SmtpFailure(smtpErrorOf(err, 'send', conn.contentSent)));
      };
      const lost = () => fail({ code: 'ECONNECTION', message: 'Connection closed unexpectedly' });
      conn.once('error', fail);
      conn.once('end', lost);
      const answered = (err?: NodemailerError | null) => {
        if (err) return fail(err);
        conn.off('error', fail);
        conn.off('end', lost);
        resolve();
      };
      if (canPipeline(conn, envelope)) refusedSoFar = sendPipelined(conn, envelope, raw, () => void (conn.contentSent = true), answered);
      else conn.send({ from: envelope.from, to: [envelope.to] }, raw, answered);
    });
  }

  /**
   * After a refusal the connection is reusable once its transaction is reset (RSET); one the relay closes meanwhile
   * (a 421 closes the channel) is dropped: the reset's callback would never come. After a sent message it is idle at once (send).
   */
  function putBack(conn: MessageConnection): Promise<void> {
    if (closed || conn.dead) {
      conn.close();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let settled = false;
      const done = (reusable: boolean) => {
        if (settled) return;
        settled = true;
        conn.off('end', gone);
        conn.off('error', gone);
        if (reusable) keepIdle(conn);
        else conn.close();
        resolve();
      };
      const gone = () => done(false);
      conn.once('end', gone);
      conn.once('error', gone);
      conn.reset((err) => done(!err));
    });
  }

  /** A connection whose transaction ended cleanly waits for the next message, unless it or the pool closed meanwhile. */
  function keepIdle(conn: MessageConnection): void {
    if (closed || conn.dead) return conn.close();
    conn.reused = true;
    idle.push(conn);
  }

  function idleConnection(): MessageConnection | undefined {
    for (let conn = idle.pop(); conn; conn = idle.pop()) {
      if (!conn.dead) return conn;
      conn.close();
    }
    return undefined;
  }

  return {
    async send(envelope, raw, withdraw) {
      // A free slot and an idle connection are taken without waiting: every promise costs, at thousands a second.
      if (free > 0 && !withdraw?.aborted) free--;
      else if (!(await acquire(withdraw))) return 'withdrawn';
      try {
        for (let attempt = 0; ; attempt++) {
          const conn = idleConnection() ?? (await connect());
          const reused = conn.reused;
          try {
            await deliver(conn, envelope, raw);
            keepIdle(conn);
            return 'sent';
          } catch (e) {
            await putBack(conn);
            // A reused connection the relay had just closed (an idle timeout) fails before this message got
            // any answer: neither the message's problem nor a relay outage. Once more, on a new connection.
            const { error } = e as SmtpFailure;
            if (attempt === 0 && reused && error.step === 'connection' && error.code === undefined && !error.contentSent) continue;
            throw e;
          }
        }
      } finally {
        release();
      }
    },
    close() {
      closed = true;
      for (const conn of idle.splice(0)) conn.quit();
    },
  };
}

/** The step of the exchange a nodemailer error answered. */
export function smtpErrorOf(err: NodemailerError, phase: 'connect' | 'send', contentSent: boolean): SmtpError {
  const text = err.response ?? err.message ?? 'unknown error';
  const code = typeof err.responseCode === 'number' ? err.responseCode : undefined;
  return { step: stepOf(err, phase), code, text, ...(phase === 'send' ? { contentSent } : {}) };
}

function stepOf(err: NodemailerError, phase: 'connect' | 'send'): SmtpStep {
  const command = err.command ?? '';
  if (err.code === 'ETLS' || command === 'STARTTLS' || /TLS|SSL|certificate|self[- ]signed|altnames/i.test(err.message ?? '')) return 'tls';
  if (err.code === 'EAUTH' || command.startsWith('AUTH')) return 'auth';
  if (/^(EHLO|HELO|LHLO)$/.test(command)) return 'ehlo';
  if (command === 'MAIL FROM' || /invalid sender/i.test(err.message ?? '')) return 'mail from';
  if (command === 'RCPT TO' || /invalid recipient/i.test(err.message ?? '')) return 'rcpt to';
  if (command === 'DATA') return err.code === 'EMESSAGE' ? 'end of data' : 'data';
  if (err.code === 'EPROTOCOL' && phase === 'connect') return 'greeting';
  return 'connection';
}

/**
 * A socket with TCP_NODELAY for each connection. Without it the last small write of each message (the final
 * ".") waits for the relay's delayed ACK: about 40 ms per message per connection. Measured with 20
 * connections to Postfix's smtp-sink: 411 msg/s with Nagle, 1,623 without. Handed over while still
 * connecting: a refused connection fails as nodemailer's own connection error. TLS (smtps, STARTTLS) is set
 * up by nodemailer over it.
 */
export function noDelaySocket(options: { host?: string; port?: number; secure?: boolean }): net.Socket {
  return net.connect({ host: options.host ?? 'localhost', port: options.port ?? (options.secure ? 465 : 587), noDelay: true });
}
