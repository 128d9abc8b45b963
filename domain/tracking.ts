// Tracking links: which links of a template are tracked, and the signed tokens that identify a
// message (delivery, sending log) and a link in tracking URLs. A token is checked in constant time
// and a tampered one identifies nothing: the tracking server answers 4xx and records nothing.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { anyOf, type Secrets } from './secrets';

/** What a tracking URL does: open pixel, click redirect, mirror page, unsubscribe. */
export type TrackingKind = 'open' | 'click' | 'mirror' | 'unsubscribe';
export const TRACKING_PATHS: Record<TrackingKind, string> = { open: 'o', click: 'c', mirror: 'm', unsubscribe: 'u' };

/** A tracked link of the HTML template: its id in tracking URLs and its href as written (may hold {{fields}}). */
export interface TrackedLink {
  id: number;
  source: string;
}

export interface TrackedTarget {
  deliveryId: string;
  sendingLogId: number;
  linkId: number;
}

/** Beyond this many distinct links per delivery, links are left as they are (keeps KPIs small). */
export const MAX_TRACKED_LINKS = 100;

/** Links written by the engine itself, never rewritten to a click redirect. */
export const SEND_TIME_FIELDS = ['unsubscribeUrl', 'mirrorPageUrl'] as const;

// href="…" or href='…' of an <a> element; the value may contain Handlebars expressions.
const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(["'])([^"']*)\2/gi;

function isTrackable(href: string): boolean {
  const value = href.trim();
  if (SEND_TIME_FIELDS.some((f) => new RegExp(`\\{\\{\\s*${f}\\s*\\}\\}`).test(value))) return false;
  // The sender's own unsubscribe page is an opt-out, not a click.
  if (/unsubscribe|opt-?out/i.test(value)) return false;
  return /^https?:\/\//i.test(value) || /^\{\{/.test(value); // a whole-URL field: refused (linkHostProblems)
}

/**
 * The origin (scheme and host) a tracked link writes literally, or undefined when a field is part of it.
 * A click redirects only there: personalization may fill the path, query and fragment, never the host, or
 * profile data (`shop = "evil.example/phish?"`) would make our signed links an open redirect.
 */
export function literalOrigin(source: string): string | undefined {
  const m = /^\s*(https?:\/\/[^/?#\\{}\s]+)(?=[/?#]|\s*$)/i.exec(source);
  if (!m) return undefined;
  try {
    return new URL(m[1]).origin;
  } catch {
    return undefined;
  }
}

/** What the preparation (and the CLI) refuse: a tracked link whose scheme or host comes from a field. */
export function linkHostProblems(html: string): string[] {
  return trackLinks(html).links.filter((l) => literalOrigin(l.source) === undefined).map((l) =>
    `html: link ${l.id} "${l.source.slice(0, 120)}" takes its scheme or host from a field; a click may only lead to a host written in ` +
    'the template: write "https://" and the host literally, and personalize the path or query (e.g. https://shop.example/{{attributes.page}})');
}

/**
 * Rewrites each trackable href of an HTML template to a send-time field holding its click URL.
 * Links are numbered from 1 in order of first appearance; the same href is one link.
 */
export function trackLinks(html: string): { html: string; links: TrackedLink[] } {
  const links: TrackedLink[] = [];
  const ids = new Map<string, number>();
  const rewritten = html.replace(ANCHOR_HREF, (whole, start: string, quote: string, href: string) => {
    if (!isTrackable(href)) return whole;
    let id = ids.get(href);
    if (id === undefined) {
      if (links.length >= MAX_TRACKED_LINKS) return whole;
      id = links.length + 1;
      ids.set(href, id);
      links.push({ id, source: href });
    }
    return `${start}${quote}{{${CLICK_FIELD}.l${id}}}${quote}`;
  });
  return { html: rewritten, links };
}

/** The send-time field the rewritten hrefs read: { l1: url, l2: url, … }. */
export const CLICK_FIELD = '_clickUrls';

/** A 128-bit HMAC-SHA256 tag, base64url: long enough that guessing is hopeless, short enough for URLs. */
function tag(secret: string, kind: TrackingKind, t: TrackedTarget): string {
  return createHmac('sha256', secret).update(`${kind}|${t.deliveryId}|${t.sendingLogId}|${t.linkId}`).digest().subarray(0, 16).toString('base64url');
}

export function signToken(secret: string, kind: TrackingKind, t: TrackedTarget): string {
  return `${Buffer.from(t.deliveryId).toString('base64url')}.${t.sendingLogId}.${t.linkId}.${tag(secret, kind, t)}`;
}

const TOKEN = /^([A-Za-z0-9_-]{1,400})\.([1-9][0-9]{0,14})\.(0|[1-9][0-9]{0,3})\.([A-Za-z0-9_-]{22})$/;

/**
 * The target a token names, or undefined when it is malformed, altered, or made for another kind. Checked against
 * every secret of a rotation (secrets.ts): links sent before a new secret signs keep working.
 */
export function verifyToken(secrets: Secrets, kind: TrackingKind, token: string): TrackedTarget | undefined {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const target = { deliveryId: Buffer.from(m[1], 'base64url').toString('utf8'), sendingLogId: Number(m[2]), linkId: Number(m[3]) };
  const given = Buffer.from(m[4]);
  return anyOf(secrets, (secret) => {
    const expected = Buffer.from(tag(secret, kind, target));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }) ? target : undefined;
}

export function trackingUrl(baseUrl: string, secret: string, kind: TrackingKind, t: TrackedTarget): string {
  return `${baseUrl}/${TRACKING_PATHS[kind]}/${signToken(secret, kind, t)}`;
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };

/** Text of an HTML attribute or element as a browser reads it: the named entities of XML and numeric ones decoded. */
export function decodeHtmlEntities(html: string): string {
  return html.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] !== '#') return NAMED_ENTITIES[e.toLowerCase()] ?? whole;
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/**
 * The address a click redirects to: the link's href rendered for the recipient, as a browser would read
 * it from the HTML (entities decoded). Only absolute http(s) URLs are followed; anything else is refused.
 */
export function redirectTarget(renderedHref: string): URL | undefined {
  const decoded = decodeHtmlEntities(renderedHref.trim());
  if (/[\r\n]/.test(decoded)) return undefined; // never a header injection through Location
  try {
    const url = new URL(decoded);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}
