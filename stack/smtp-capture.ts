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
  refuseRecipient?(address: string): SmtpReply | undefined;
  /** Drop the connection for this recipient when DATA starts, before any content (tests of faults). */
  dropConnection?(address: string): boolean;
  /** Take this recipient's message, then drop the connection before the 250 reaches the sender (a lost reply). */
  loseReply?(address: string): boolean;
  /** Answer DATA only after this long (a slow relay). */
  replyDelayMs?: number;
  /** Refuse every connection with this greeting (e.g. 554, or 421 while "busy"). */
  refuseConnections?: SmtpReply;
  /** Require AUTH with these credentials (PLAIN/LOGIN, without TLS): anything else gets 535. */
  auth?: { user: string; pass: string };
  /** Refuse the return path (MAIL FROM) with this reply. */
  refuseSender?: SmtpReply;
  /** After refusing the return path, hang up (as some relays do): the client's next commands find the line cut. */
  hangUpAfterRefusingSender?: boolean;
  /** Offer STARTTLS with smtp-server's built-in certificate (expired, self-signed: a client refuses it) and require it. */
  requireTls?: boolean;
  /** Close a connection idle this long (smtp-server's default: a minute). */
  socketTimeoutMs?: number;
  /** Do not offer PIPELINING (RFC 2920): the sender must wait for each reply. */
  hidePipelining?: boolean;
}

export interface SmtpReply {
  code: number;
  message: string;
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
  // smtp-server has no public way to cut a connection: destroy the socket of this session.
  const cut = (sessionId: string) => {
    for (const c of connectionsOf(server)) if (c.session.id === sessionId) c._socket.destroy();
  };
  const server = new SMTPServer({
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disabledCommands: [...(options.requireTls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])],
    logger: false,
    size: 25 * 1024 * 1024,
    ...(options.socketTimeoutMs ? { socketTimeout: options.socketTimeoutMs } : {}),
    ...(options.hidePipelining ? { hidePIPELINING: true } : {}),
    onConnect(_session, callback) {
      callback(options.refuseConnections ? replyError(options.refuseConnections) : undefined);
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) return callback(null, { user: auth.username });
      callback(replyError({ code: 535, message: '5.7.8 Authentication credentials invalid' }));
    },
    onMailFrom(_address, session, callback) {
      if (options.requireTls && !session.secure) return callback(replyError({ code: 530, message: '5.7.0 Must issue a STARTTLS command first' }));
      callback(options.refuseSender ? replyError(options.refuseSender) : undefined);
      if (options.refuseSender && options.hangUpAfterRefusingSender) cut(session.id);
    },
    onRcptTo(address, _session, callback) {
      const refusal = options.refuseRecipient?.(address.address);
      callback(refusal ? replyError(refusal) : undefined);
    },
    onData(stream, session, callback) {
      if (session.envelope.rcptTo.some((r) => options.dropConnection?.(r.address))) return cut(session.id);
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
            if (envelope.to.some((to) => options.loseReply?.(to))) return cut(session.id); // taken, but the sender never hears it
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

function replyError({ code, message }: SmtpReply): Error {
  return Object.assign(new Error(message), { responseCode: code });
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
