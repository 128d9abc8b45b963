// The tracking server: open pixel, click redirect, mirror page and unsubscribe (RFC 8058 one-click).
// Every URL carries a signed token (domain/tracking.ts): a malformed or altered one gets a 4xx and
// records nothing, and a click only ever redirects to a link of the delivery's own template.
// Events are written in batches, and each delivery's tracking KPIs reach its workflow at most twice
// a second, whatever the traffic.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { trackingCounts } from '../domain/delivery';
import { deliveryMessages, verifyingSecrets, type DeliveryMessages, type TrackingSetup } from '../domain/message';
import { TRACKING_PATHS, verifyToken, type TrackedTarget, type TrackingKind } from '../domain/tracking';
import type { Database } from '../store/prisma';
import { loadDelivery } from '../store/deliveries';
import { trackingEvents, type NewTrackingEvent } from '../store/tracking-events';
import { progressSignals } from '../temporal/progress-signals';
import { rateLimiter } from './rate-limit';
import { clientAddress, type TrustProxy } from './client-address';

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

/** Events waiting to be written beyond this get a 503: memory stays bounded under a flood. */
const MAX_BUFFERED_EVENTS = 200_000;
/** The same event of one recipient (and link) counts once in this window. */
const REPEAT_WINDOW_MS = 60_000;
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const KIND_OF_PATH = Object.fromEntries(Object.entries(TRACKING_PATHS).map(([kind, p]) => [p, kind as TrackingKind]));

export async function startTrackingServer(options: TrackingServerOptions): Promise<TrackingServer> {
  const { db, client, tracking } = options;
  const events = trackingEvents(db);
  const perSecond = options.requestsPerSecond ?? 50;
  const limiter = rateLimiter({ perSecond, burst: perSecond * 4 });
  let buffered: NewTrackingEvent[] = [];
  let writing: Promise<void> = Promise.resolve();
  // Each delivery's tracking totals reach its workflow at most every signalEveryMs, and again once Temporal is back.
  const signals = progressSignals(client, options.signalEveryMs ?? 10_000);
  const specs = new Map<string, { messages: DeliveryMessages; unsubscribeFrom?: string; at: number }>();

  // Repeats of one event (a mail client reloading its pixel, a scanner, a script) count once a minute.
  const counted = new Map<string, number>();
  const forgetRepeats = setInterval(() => {
    const before = Date.now() - REPEAT_WINDOW_MS;
    for (const [key, at] of counted) if (at < before) counted.delete(key);
  }, REPEAT_WINDOW_MS);

  function record(event: Omit<NewTrackingEvent, 'at'>): boolean {
    if (buffered.length >= MAX_BUFFERED_EVENTS) return false;
    buffered.push({ ...event, at: new Date() });
    return true;
  }

  /** What a tracking request records: the same event (kind, recipient, link) counts once a minute; repeats are answered, not counted. */
  function recordRequest(event: Omit<NewTrackingEvent, 'at'>): boolean {
    const key = `${event.kind}|${event.deliveryId}|${event.sendingLogId}|${event.linkId}`;
    const now = Date.now();
    if (now - (counted.get(key) ?? -Infinity) < REPEAT_WINDOW_MS) return true;
    if (!record(event)) return false;
    if (counted.size < MAX_BUFFERED_EVENTS) counted.set(key, now);
    return true;
  }

  function flush(): Promise<void> {
    writing = writing.then(async () => {
      const chunk = buffered;
      buffered = [];
      for (let i = 0; i < chunk.length; i += 5000) {
        const part = chunk.slice(i, i + 5000);
        try {
          await events.record(part);
        } catch (e) {
          buffered = [...chunk.slice(i), ...buffered]; // written whole or not at all: kept for the next flush
          throw e;
        }
        for (const deliveryId of new Set(part.map((e) => e.deliveryId))) signalSoon(deliveryId);
      }
    }).catch((e) => console.error(`tracking: events not written yet (kept, retried at the next flush): ${(e as Error).message}`));
    return writing;
  }
  const flushTimer = setInterval(() => void flush(), options.flushEveryMs ?? 200);

  /** The delivery's tracking totals, read from the database when the signal goes. Events are stored whether Temporal answers or not. */
  function signalSoon(deliveryId: string) {
    signals.soon(deliveryId, async () => {
      const messages = await messagesOf(deliveryId);
      const { tallies, clickers } = await events.tallies(deliveryId);
      return { phase: 'tracking', ...trackingCounts(tallies, clickers, (id) => messages?.links.find((l) => l.id === id)?.source) };
    });
  }

  /** A delivery's templates with tracking, from its stored spec (cached for a minute). */
  async function messagesOf(deliveryId: string): Promise<DeliveryMessages | undefined> {
    return (await deliveryOf(deliveryId))?.messages;
  }

  async function deliveryOf(deliveryId: string) {
    const cached = specs.get(deliveryId);
    if (cached && Date.now() - cached.at < 60_000) return cached;
    const delivery = await loadDelivery(db, deliveryId);
    if (!delivery) return undefined;
    const { unsubscribeFrom } = delivery.spec;
    const entry = { messages: deliveryMessages(deliveryId, delivery.spec, tracking), unsubscribeFrom: unsubscribeFrom === 'everything' ? undefined : unsubscribeFrom.list, at: Date.now() };
    if (specs.size > 1000) specs.clear();
    specs.set(deliveryId, entry);
    return entry;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://tracking');
    const m = /^\/([a-z])\/([^/]{1,600})$/.exec(url.pathname);
    const kind = m ? KIND_OF_PATH[m[1]] : undefined;
    const target = m && kind ? verifyToken(verifyingSecrets(tracking), kind, m[2]) : undefined;
    // Genuine opens and unsubscriptions are never refused: mailbox providers fetch pixels and post one-click
    // unsubscribes for many recipients from a few addresses, and an unsubscription must be honoured (their cost is
    // bounded by the event buffer). Clicks, page views, bad tokens and anything else are limited per client.
    const exempt = target !== undefined && (kind === 'open' || kind === 'unsubscribe');
    if (!exempt && !limiter.take(clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], options.trustProxy))) {
      return reply(res, 429, 'Too many requests: try again in a few seconds.', { 'Retry-After': '5' });
    }
    if (url.pathname === '/health') return reply(res, 200, 'ok');
    if (url.pathname === '/proof') return page(res, 200, 'Proof', 'Unsubscribe and mirror page links are not active in proofs.');
    if (!m || !kind) return page(res, 404, 'Not found', 'There is nothing here.');
    const allowed = kind === 'unsubscribe' ? ['GET', 'POST'] : ['GET', 'HEAD'];
    if (!allowed.includes(req.method ?? '')) return reply(res, 405, 'Method not allowed', { Allow: allowed.join(', ') });
    if (!target) return page(res, 400, 'Invalid link', 'This link is invalid or has been altered.');

    if (kind === 'open') {
      // HEAD is a link checker or a scanner asking whether the image exists, not a reader opening the message.
      if (req.method !== 'HEAD' && !recordRequest({ ...target, kind })) return reply(res, 503, 'Busy', { 'Retry-After': '5' });
      res.writeHead(200, { 'Content-Type': 'image/gif', 'Content-Length': PIXEL.length, 'Cache-Control': 'no-store, private' });
      res.end(req.method === 'HEAD' ? undefined : PIXEL);
      return;
    }
    const recipient = await events.recipient(target.deliveryId, target.sendingLogId);
    const messages = recipient && (await messagesOf(target.deliveryId));
    if (!recipient || !messages) return page(res, 404, 'Link expired', 'This message is no longer available.');
    const data = JSON.parse(recipient.personalization) as Record<string, unknown>;
    if (kind === 'click') return click(res, target, messages, data, req.method === 'HEAD');
    if (kind === 'mirror') {
      if (req.method !== 'HEAD') recordRequest({ ...target, kind });
      const html = messages.compose(target.sendingLogId, data, { openPixel: false }).html;
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        // The message is shown as it was sent: no script runs on our origin whatever the template holds.
        'Content-Security-Policy': "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src *",
        'Cache-Control': 'no-store, private',
      });
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    // Unsubscribe: GET shows a button (mail scanners follow links; RFC 8058 forbids GET from unsubscribing),
    // POST (the mail client's one-click, or that button) opts the profile out.
    if (req.method === 'GET') {
      return page(res, 200, 'Unsubscribe', `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
        `<p>Stop receiving these emails?</p><button type="submit">Unsubscribe</button></form>`, true);
    }
    if (!(await bodyWithin(req, 4096))) return reply(res, 413, 'Request body too large');
    const list = await events.optOut(recipient, target.deliveryId, (await deliveryOf(target.deliveryId))?.unsubscribeFrom);
    recordRequest({ ...target, kind });
    return page(res, 200, 'Unsubscribed', list === undefined ? 'You are unsubscribed: you will not receive these emails any more.'
      : `You are unsubscribed from the list “${list}”: you will not receive its emails any more.`);
  }

  function click(res: http.ServerResponse, target: TrackedTarget, messages: DeliveryMessages, data: Record<string, unknown>, head: boolean) {
    const to = messages.linkTarget(target.linkId, data);
    if (!to) return page(res, 404, 'Link not available', 'This link does not lead to a web page.');
    if (!head) recordRequest({ ...target, kind: 'click' });
    res.writeHead(302, { Location: to.href, 'Cache-Control': 'no-store, private', 'Referrer-Policy': 'no-referrer' });
    res.end();
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
    record,
    flush,
    async close() {
      clearInterval(flushTimer);
      clearInterval(forgetRepeats);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await flush();
      await signals.close();
    },
  };
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function page(res: http.ServerResponse, status: number, title: string, body: string, trustedHtml = false): void {
  const content = trustedHtml ? body : `<p>${body}</p>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'" });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>` +
    `<body style="font-family:sans-serif;max-width:32em;margin:3em auto">${content}</body></html>`);
}

/** Reads (and drops) a request body, false when it is larger than the limit. */
function bodyWithin(req: http.IncomingMessage, limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(false);
        req.destroy();
      }
    });
    req.on('end', () => resolve(true));
    req.on('error', () => resolve(false));
  });
}
