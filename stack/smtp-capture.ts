// A local SMTP server on loopback. The embedded default relay stores each message as an .eml file,
// so a newcomer can open what was "sent"; tests reuse it to read messages back.
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer, type SMTPServerEnvelope } from 'smtp-server';

export interface ReceivedMessage {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  /** The SMTP session (connection) that carried it. */
  sessionId: string;
}

export interface SmtpServerOptions {
  port?: number;
  host?: string;
  /**
   * Called once a message is fully received, before the relay answers. It may return a commit step, run only
   * when the relay answers 250: a relay killed in between never acknowledged the message, and neither does this one.
   */
  onMessage(message: ReceivedMessage): void | Promise<void | (() => void)>;
  /** Refuse a recipient with an SMTP reply (tests of failures). */
  refuseRecipient?(address: string): { code: number; message: string } | undefined;
  /** Drop the connection in the middle of DATA for this recipient, without a reply (tests of faults). */
  dropConnection?(address: string): boolean;
  /** Answer DATA only after this long (a slow relay). */
  replyDelayMs?: number;
}

export interface RunningSmtpServer {
  port: number;
  url: string;
  close(): Promise<void>;
  /** Stops listening and cuts every open connection at once, as a crash would. */
  kill(): Promise<void>;
}

type Connections = Set<{ session: { id: string }; _socket: { destroy(): void } }>;

export async function startSmtpServer(options: SmtpServerOptions): Promise<RunningSmtpServer> {
  const host = options.host ?? '127.0.0.1';
  let killed = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 25 * 1024 * 1024,
    onRcptTo(address, _session, callback) {
      const refusal = options.refuseRecipient?.(address.address);
      if (!refusal) return callback();
      const err = new Error(refusal.message) as Error & { responseCode: number };
      err.responseCode = refusal.code;
      callback(err);
    },
    onData(stream, session, callback) {
      if (session.envelope.rcptTo.some((r) => options.dropConnection?.(r.address))) {
        // smtp-server has no public way to cut a connection: destroy the socket of this session.
        for (const c of connectionsOf(server)) if (c.session.id === session.id) c._socket.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const envelope = envelopeOf(session.envelope);
        const delay = new Promise((r) => setTimeout(r, options.replyDelayMs ?? 0));
        delay
          .then(() => (killed ? undefined : options.onMessage({ envelope, raw: Buffer.concat(chunks), sessionId: session.id })))
          .then((commit) => {
            // Killed before answering: like a relay crashing before it queues, the message was not accepted.
            if (killed) return;
            commit?.();
            callback();
          }, callback);
      });
    },
  });
  server.on('error', () => undefined); // a client dropping its connection is not the server's failure
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `smtp://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    async kill() {
      killed = true;
      server.server.close();
      for (const c of connectionsOf(server)) c._socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function connectionsOf(server: SMTPServer): Connections {
  return (server as unknown as { connections: Connections }).connections;
}

function envelopeOf(e: SMTPServerEnvelope): ReceivedMessage['envelope'] {
  return { from: e.mailFrom ? e.mailFrom.address : '', to: e.rcptTo.map((r) => r.address) };
}

/** The embedded default relay: every message becomes <dir>/<time>-<recipient>.eml. */
export async function startSmtpCapture(dir: string, port = 2525): Promise<RunningSmtpServer> {
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  return startSmtpServer({
    port,
    async onMessage({ envelope, raw }) {
      const to = (envelope.to[0] ?? 'unknown').replace(/[^A-Za-z0-9@._-]/g, '_');
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(++n).padStart(6, '0')}-${to}.eml`;
      await fs.promises.writeFile(path.join(dir, name), raw);
    },
  });
}
