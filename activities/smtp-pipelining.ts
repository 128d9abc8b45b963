// One message's transaction in two writes when the relay offers PIPELINING (RFC 2920): MAIL FROM, RCPT TO and
// DATA together, then the content and its final "." once the relay answered DATA with 354. nodemailer's send
// waits a round trip for MAIL FROM and another for DATA, and streams the content through a Transform: per
// message, two round trips and five socket writes where two of each do. The replies still go through
// nodemailer's reply queue (in order, one action each), so each error names the step it answered exactly as
// nodemailer's would, and a refused transaction is reset by the pool as before.
import type net from 'node:net';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

/** What nodemailer's error callbacks carry (smtp-pool.ts reads the step and the reply from it). */
export interface NodemailerError {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** SMTPConnection's own state this module relies on: the version is pinned, test/unit/mailer.test.ts covers both paths. */
interface ConnectionInternals {
  _socket: net.Socket;
  _destroyed: boolean;
  _responseActions: Array<(reply: string) => void>;
  _supportedExtensions: string[];
}

/** Envelope addresses written as they are: printable ASCII without spaces or angle brackets (else nodemailer's path). */
const PLAIN_ADDRESS = /^[\x21-\x3b\x3d\x3f-\x7e]+$/;

export function canPipeline(conn: SMTPConnection, envelope: { from: string; to: string }): boolean {
  const c = conn as unknown as ConnectionInternals;
  return c._supportedExtensions.includes('PIPELINING') && PLAIN_ADDRESS.test(envelope.from) && PLAIN_ADDRESS.test(envelope.to);
}

/**
 * Sends one message on an idle connection. `contentSent` is called once the content and its final "." were
 * handed to the socket; `done` once the relay answered it (or refused a step: every reply of the group has then
 * come, so the connection's reply queue is empty and a reset can follow). Returns the refusal heard so far: a
 * relay that refuses MAIL FROM and hangs up before the other replies lost the connection *because* of it.
 */
export function sendPipelined(conn: SMTPConnection, envelope: { from: string; to: string }, raw: string,
  contentSent: () => void, done: (err?: NodemailerError) => void): () => NodemailerError | undefined {
  const c = conn as unknown as ConnectionInternals;
  if (c._destroyed || !c._socket || c._socket.destroyed || !c._socket.writable) {
    done({ code: 'ECONNECTION', command: 'API', message: 'Cannot send message - smtp connection is already closed.' }); // as nodemailer's send
    return () => undefined;
  }
  let refused: NodemailerError | undefined;
  let finished = false;
  const finish = (err?: NodemailerError) => void (finished || ((finished = true), done(err)));
  const refuse = (reply: string, command: string, code = 'EENVELOPE') => {
    refused ??= { code, command, response: reply, responseCode: Number(reply.slice(0, 3)) || undefined };
    // A 421 closes the channel: the replies still due will not come, and its own must not be lost with it.
    if (refused.responseCode === 421) finish(refused);
    return refused;
  };
  c._responseActions.push(
    (reply) => void (reply[0] === '2' || refuse(reply, 'MAIL FROM')),
    (reply) => void (reply[0] === '2' || refuse(reply, 'RCPT TO')),
    (reply) => {
      if (!reply.startsWith('354')) return finish(refused ?? refuse(reply, 'DATA'));
      if (refused) {
        // A relay that opens the data after refusing the envelope gets an empty one at once (RFC 2920, 3.1).
        c._responseActions.push(() => finish(refused));
        c._socket.write('.\r\n');
        return;
      }
      c._responseActions.push((end) => (end[0] === '2' ? finish() : finish(refuse(end, 'DATA', 'EMESSAGE'))));
      c._socket.write(smtpData(raw));
      contentSent();
    },
  );
  c._socket.write(`MAIL FROM:<${envelope.from}>\r\nRCPT TO:<${envelope.to}>\r\nDATA\r\n`);
  return () => refused;
}

/** Bare LF as a line break: only CRLF may end a line on the wire. */
const BARE_LF = /(?:^|[^\r])\n/;

/**
 * The message as DATA carries it: CRLF line breaks, a line starting with "." doubled (RFC 5321, 4.5.2), and the
 * final "." on a line of its own. Messages the engine writes already end their lines with CRLF: only a test is paid.
 */
export function smtpData(raw: string): string {
  let text = BARE_LF.test(raw) ? raw.replace(/\r?\n/g, '\r\n') : raw;
  if (text.startsWith('.')) text = `.${text}`;
  if (text.includes('\n.')) text = text.replace(/\n\./g, '\n..');
  return text.endsWith('\r\n') ? `${text}.\r\n` : `${text}\r\n.\r\n`;
}
