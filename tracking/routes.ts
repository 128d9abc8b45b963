// One function per tracking route, each given a verified token (domain/tracking.ts): the open pixel, the click
// redirect (only ever to a link of the delivery's own template), the mirror page and the unsubscribe (RFC 8058).
import type http from 'node:http';
import type { TrackedTarget, TrackingKind } from '../domain/tracking';
import type { TrackingRecording } from './recording';
import { isMachineOpen } from '../domain/machine-opens';
import { bodyWithin, page, reply } from './responses';

export interface RouteRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  target: TrackedTarget;
  /** HEAD: a link checker or a scanner asking whether the resource exists, not a reader. */
  head: boolean;
  /** The client's address (behind trusted proxies, the one they name). */
  client: string;
  recording: TrackingRecording;
}

type Route = (r: RouteRequest) => Promise<void> | void;

const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** The methods each route answers. */
export const ROUTE_METHODS: Record<TrackingKind, string[]> = { open: ['GET', 'HEAD'], click: ['GET', 'HEAD'], mirror: ['GET', 'HEAD'], unsubscribe: ['GET', 'POST'] };

function open({ req, res, target, head, client, recording }: RouteRequest): void {
  const machine = isMachineOpen(req.headers['user-agent'], client);
  if (!head && !recording.request({ ...target, kind: 'open', ...(machine ? { machine } : {}) })) return reply(res, 503, 'Busy', { 'Retry-After': '5' });
  res.writeHead(200, { 'Content-Type': 'image/gif', 'Content-Length': PIXEL.length, 'Cache-Control': 'no-store, private' });
  res.end(head ? undefined : PIXEL);
}

/** The recipient's row and the delivery's templates, or a "Link expired" page (undefined). */
async function recipientOf({ res, target, recording }: RouteRequest) {
  const recipient = await recording.recipient(target.deliveryId, target.sendingLogId);
  const delivery = recipient && (await recording.delivery(target.deliveryId));
  if (!recipient || !delivery) {
    page(res, 404, 'Link expired', 'This message is no longer available.');
    return undefined;
  }
  // A recipient of an A/B test got their variant's message: its links and its mirror page.
  const messages = (recipient.variant !== null && delivery.variants?.get(recipient.variant)) || delivery.messages;
  return { recipient, delivery, messages, data: JSON.parse(recipient.personalization) as Record<string, unknown> };
}

async function click(r: RouteRequest): Promise<void> {
  const found = await recipientOf(r);
  if (!found) return;
  const to = found.messages.linkTarget(r.target.linkId, found.data);
  if (!to) return page(r.res, 404, 'Link not available', 'This link does not lead to a web page.');
  if (!r.head) r.recording.request({ ...r.target, kind: 'click' });
  r.res.writeHead(302, { Location: to.href, 'Cache-Control': 'no-store, private', 'Referrer-Policy': 'no-referrer' });
  r.res.end();
}

async function mirror(r: RouteRequest): Promise<void> {
  const found = await recipientOf(r);
  if (!found) return;
  if (!r.head) r.recording.request({ ...r.target, kind: 'mirror' });
  const html = found.messages.compose(r.target.sendingLogId, found.data, { openPixel: false }).html;
  r.res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    // The message is shown as it was sent: no script runs on our origin whatever the template holds.
    'Content-Security-Policy': "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src *",
    'Cache-Control': 'no-store, private',
  });
  r.res.end(r.head ? undefined : html);
}

/**
 * GET shows a button (mail scanners follow links; RFC 8058 forbids GET from unsubscribing); POST (the mail
 * client's one-click, or that button) opts the profile out.
 */
async function unsubscribe(r: RouteRequest): Promise<void> {
  const found = await recipientOf(r);
  if (!found) return;
  if (r.req.method === 'GET') {
    return page(r.res, 200, 'Unsubscribe', `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
      `<p>Stop receiving these emails?</p><button type="submit">Unsubscribe</button></form>`, true);
  }
  if (!(await bodyWithin(r.req, 4096))) return reply(r.res, 413, 'Request body too large');
  const list = await r.recording.optOut(found.recipient, r.target.deliveryId, found.delivery.unsubscribeFrom);
  r.recording.request({ ...r.target, kind: 'unsubscribe' });
  return page(r.res, 200, 'Unsubscribed', list === undefined ? 'You are unsubscribed: you will not receive these emails any more.'
    : `You are unsubscribed from the list “${list}”: you will not receive its emails any more.`);
}

export const ROUTES: Record<TrackingKind, Route> = { open, click, mirror, unsubscribe };
