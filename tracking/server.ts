// The tracking server: open pixel, click redirect, mirror page and unsubscribe (RFC 8058 one-click).
// Every URL carries a signed token (domain/tracking.ts): a malformed or altered one gets a 4xx and
// records nothing, and a click only ever redirects to a link of the delivery's own template.
// The server checks what every request shares (rate limit, token, method) and hands it to its route
// (tracking/routes.ts); events are written in batches and each delivery's tracking KPIs reach its workflow
// at most every 10 s by default, whatever the traffic (tracking/recording.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { verifyingSecrets, type TrackingSetup } from '../domain/message';
import { TRACKING_PATHS, verifyToken, type TrackingKind } from '../domain/tracking';
import type { Database } from '../store/prisma';
import type { NewTrackingEvent } from '../store/tracking-events';
import { rateLimiter } from './rate-limit';
import { clientAddress, type TrustProxy } from './client-address';
import { trackingRecording } from './recording';
import { ROUTE_METHODS, ROUTES } from './routes';
import { page, reply } from './responses';
import { espWebhooks, type EspWebhookConfig } from './esp-webhooks';

export interface TrackingServerOptions {
  db: Database;
  /** Where KPIs are signalled; without it events are only stored. */
  client?: Client;
  tracking: TrackingSetup;
  port: number;
  host?: string;
  /** Clicks, page views and bad tokens per second per client (burst: 4 seconds' worth); genuine opens and unsubscriptions are never limited. */
  requestsPerSecond?: number;
  /** The proxies in front of the server (TRUST_PROXY): the client is then read from X-Forwarded-For. */
  trustProxy?: TrustProxy;
  /** How often buffered events are written (ms). */
  flushEveryMs?: number;
  /** A delivery's KPIs are signalled at most this often (ms, default 10 s: each signal is a history event). */
  signalEveryMs?: number;
  /** The ESPs' event webhooks to serve (POST /esp/<provider>), each with what checks its requests. */
  esp?: EspWebhookConfig;
  /** Quarantine threshold of soft bounces, as the bounce listener's (QUARANTINE_SOFT_ERRORS). */
  softErrorsBeforeQuarantine?: number;
}

export interface TrackingServer {
  url: string;
  port: number;
  /** Records one event as a valid tracking request does, without the bound on repeats (volume tests and tools). */
  record(event: Omit<NewTrackingEvent, 'at'>): boolean;
  /** Writes the buffered events now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const KIND_OF_PATH = Object.fromEntries(Object.entries(TRACKING_PATHS).map(([kind, p]) => [p, kind as TrackingKind]));

export async function startTrackingServer(options: TrackingServerOptions): Promise<TrackingServer> {
  const { tracking } = options;
  const recording = trackingRecording(options.db, tracking, options);
  const perSecond = options.requestsPerSecond ?? 50;
  const limiter = rateLimiter({ perSecond, burst: perSecond * 4 });
  const webhooks = espWebhooks({
    db: options.db, client: options.client, secrets: verifyingSecrets(tracking), config: options.esp ?? {},
    softErrorsBeforeQuarantine: options.softErrorsBeforeQuarantine, signalEveryMs: options.signalEveryMs,
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://tracking');
    // ESPs post events in bursts from a few addresses: never rate-limited, each request checked by its signature.
    if (webhooks.serves(url.pathname)) return webhooks.handle(req, res, url.pathname);
    const m = /^\/([a-z])\/([^/]{1,600})$/.exec(url.pathname);
    const kind = m ? KIND_OF_PATH[m[1]] : undefined;
    const target = m && kind ? verifyToken(verifyingSecrets(tracking), kind, m[2]) : undefined;
    // Genuine opens and unsubscriptions are never refused: mailbox providers fetch pixels and post one-click
    // unsubscribes for many recipients from a few addresses, and an unsubscription must be honoured (their cost is
    // bounded by the event buffer). Clicks, page views, bad tokens and anything else are limited per client.
    const exempt = target !== undefined && (kind === 'open' || kind === 'unsubscribe');
    const client = clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], options.trustProxy);
    if (!exempt && !limiter.take(client)) {
      return reply(res, 429, 'Too many requests: try again in a few seconds.', { 'Retry-After': '5' });
    }
    if (url.pathname === '/health') return reply(res, 200, 'ok');
    if (url.pathname === '/proof') return page(res, 200, 'Proof', 'Unsubscribe and mirror page links are not active in proofs.');
    if (!m || !kind) return page(res, 404, 'Not found', 'There is nothing here.');
    const allowed = ROUTE_METHODS[kind];
    if (!allowed.includes(req.method ?? '')) return reply(res, 405, 'Method not allowed', { Allow: allowed.join(', ') });
    if (!target) return page(res, 400, 'Invalid link', 'This link is invalid or has been altered.');
    return ROUTES[kind]({ req, res, target, head: req.method === 'HEAD', client, recording });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error(`tracking: ${(e as Error).message}`);
      if (!res.headersSent) reply(res, 503, 'Temporarily unavailable, try again later.', { 'Retry-After': '5' });
      else res.destroy();
    });
  });
  // Slow clients do not hold sockets for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1'}:${port}`,
    port,
    record: recording.record,
    flush: recording.flush,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await recording.close();
      await webhooks.close();
    },
  };
}

