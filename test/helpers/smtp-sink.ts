// A real SMTP server on loopback that records every message it accepts, parsed, for tests to read back.
import { simpleParser, type ParsedMail } from 'mailparser';
import { startSmtpServer, type ReceivedMessage, type RunningSmtpServer, type SmtpServerOptions } from '../../stack/smtp-capture';

export interface SinkMessage {
  /** The message as received, byte for byte (DKIM verification). */
  raw: Buffer;
  /** Envelope sender (the return path). */
  from: string;
  to: string;
  mail: ParsedMail;
  /** When the sink accepted it (ms since epoch). */
  receivedAt: number;
  /** The SMTP connection that carried it. */
  sessionId: string;
}

export interface SmtpSink extends RunningSmtpServer {
  messages: SinkMessage[];
  /** The relay goes down (connections cut, port closed) … */
  goDown(): Promise<void>;
  /** … and comes back on the same port (with another behaviour, e.g. its configuration fixed). */
  comeBack(options?: SinkOptions): Promise<void>;
  /** Messages accepted per recipient address. */
  countByRecipient(): Map<string, number>;
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
}

/** How the test relay behaves (stack/smtp-capture.ts); comeBack() may change it. */
export type SinkOptions = Omit<SmtpServerOptions, 'onMessage' | 'port' | 'host'> & {
  /** Called as the sink answers 250 (a relay that bounces at once hooks in here). */
  onAccepted?(message: SinkMessage): void;
};

export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const serverOptions = {
    ...options,
    async onMessage({ envelope, raw, sessionId }: ReceivedMessage) {
      const mail = await simpleParser(raw);
      // Recorded when the sink answers 250 only: a message cut by goDown() was never accepted, the sender retries it.
      return () => {
        const receivedAt = Date.now();
        for (const to of envelope.to) {
          const message = { raw, from: envelope.from, to, mail, receivedAt, sessionId };
          messages.push(message);
          options.onAccepted?.(message);
        }
      };
    },
  };
  let server = await startSmtpServer(serverOptions);
  const { port, url } = server;
  return {
    port,
    url,
    messages,
    close: () => server.close(),
    kill: () => server.kill(),
    goDown: () => server.kill(),
    async comeBack(next?: SinkOptions) {
      server = await startSmtpServer({ ...(next ? { ...next, onMessage: serverOptions.onMessage } : serverOptions), port });
    },
    countByRecipient() {
      const counts = new Map<string, number>();
      for (const m of messages) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
      return counts;
    },
    async waitForCount(n, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > until) throw new Error(`SMTP sink: ${messages.length} messages after ${timeoutMs} ms, expected ${n}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
