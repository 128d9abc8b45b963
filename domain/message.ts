// One recipient's message as sent: the templates rendered with what the preparation captured, links
// rewritten to signed click redirects, an open pixel, a mirror page link and one-click unsubscribe
// headers (RFC 8058). Used by the sending activity and, for the mirror page, by the tracking server.
import { domainOf } from './address';
import { signedMessageId } from './bounce-references';
import { espTagHeaders, type Esp } from './esp-events';
import { parseSender } from './spec';
import { compileHtmlFragment, compileTemplates, type Personalization, type RenderedMessage } from './template';
import { CLICK_FIELD, literalOrigin, redirectTarget, trackLinks, trackingUrl, type TrackedLink, type TrackingKind } from './tracking';

export interface TrackingSetup {
  /** Public base URL of the tracking server (TRACKING_BASE_URL), without a trailing slash. */
  baseUrl: string;
  /** HMAC key that signs tracking tokens, return paths and Message-IDs, shared by the workers and the tracking servers. */
  secret: string;
  /**
   * Every key a signature is checked against: the signing one first, then those it replaced (a rotation keeps
   * links and bounces of messages already sent working). Absent: the signing key alone.
   */
  verifyWith?: readonly string[];
  /** The ESP the relay is (RELAY_ESP): the header it echoes in its events carries each message's signed Message-ID. */
  relayEsp?: Esp;
}

/** The keys a tracking token, return path or Message-ID is checked against. */
export function verifyingSecrets(tracking: TrackingSetup): readonly string[] {
  return tracking.verifyWith?.length ? tracking.verifyWith : [tracking.secret];
}

export interface ComposedMessage extends RenderedMessage {
  messageId: string;
  headers: Record<string, string>;
}

export interface MessageContent {
  from: string;
  subject: string;
  html: string;
  text?: string;
  /** The list the unsubscribe link leaves (its List-Id), or every message of the sender. */
  unsubscribeFrom?: 'everything' | { list: string };
  /** The typology's name: the campaign type in Gmail's Feedback-ID. */
  typology?: { name: string };
}

export interface DeliveryMessages {
  links: TrackedLink[];
  compose(sendingLogId: number, data: Personalization, options?: { openPixel?: boolean }): ComposedMessage;
  /** Where a click on a tracked link goes for this recipient; undefined when it is not a web address. */
  linkTarget(linkId: number, data: Personalization): URL | undefined;
}

export function deliveryMessages(deliveryId: string, content: MessageContent, tracking: TrackingSetup): DeliveryMessages {
  const { html, links } = trackLinks(content.html);
  const templates = compileTemplates({ subject: content.subject, html, text: content.text });
  const senderDomain = domainOf(parseSender(content.from).address);
  const bulkHeaders = listHeaders(deliveryId, content, senderDomain);
  const hrefs = new Map<number, (data: Personalization) => string>();
  return {
    links,
    compose(sendingLogId, data, options = {}) {
      const url = (kind: TrackingKind, linkId = 0) => trackingUrl(tracking.baseUrl, tracking.secret, kind, { deliveryId, sendingLogId, linkId });
      const unsubscribeUrl = url('unsubscribe');
      const messageId = signedMessageId(tracking.secret, sendingLogId, senderDomain);
      const rendered = templates.render({
        ...data,
        unsubscribeUrl,
        mirrorPageUrl: url('mirror'),
        [CLICK_FIELD]: Object.fromEntries(links.map((l) => [`l${l.id}`, url('click', l.id)])),
      });
      return {
        ...rendered,
        html: options.openPixel === false ? rendered.html : withOpenPixel(rendered.html, url('open')),
        // Stable per recipient and signed, so a bounce (or a duplicate after a crash) maps back to its sending
        // log, and nobody can forge one for a message they did not receive.
        messageId,
        headers: {
          'X-Delivery-Id': deliveryId,
          ...espTagHeaders(tracking.relayEsp, messageId),
          ...bulkHeaders,
          'List-Unsubscribe': `<${unsubscribeUrl}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
      };
    },
    linkTarget(linkId, data) {
      const link = links.find((l) => l.id === linkId);
      if (!link) return undefined;
      let render = hrefs.get(linkId);
      if (!render) hrefs.set(linkId, (render = compileHtmlFragment(`link ${linkId}`, link.source)));
      const target = redirectTarget(render(data));
      // Only to the host the template wrote (the preparation refuses links whose host is a field).
      return target && target.origin === literalOrigin(link.source) ? target : undefined;
    },
  };
}

/** Proofs show the real links, and inert unsubscribe and mirror links (a proof has no sending log). */
export function proofTemplates(content: MessageContent, tracking: Pick<TrackingSetup, 'baseUrl'>) {
  const templates = compileTemplates(content);
  const inert = `${tracking.baseUrl}/proof`;
  return {
    fields: templates.fields,
    render: (data: Personalization) => templates.render({ ...data, unsubscribeUrl: inert, mirrorPageUrl: inert }),
  };
}

function withOpenPixel(html: string, url: string): string {
  const pixel = `<img src="${url}" width="1" height="1" alt="" style="display:block;border:0">`;
  const end = html.search(/<\/body\s*>/i);
  return end === -1 ? html + pixel : html.slice(0, end) + pixel + html.slice(end);
}

/**
 * What bulk mail carries besides List-Unsubscribe: List-Id (RFC 2919; one per list the unsubscribe link leaves,
 * else one per sender domain), so filters and SpamAssassin see a list, and Gmail's Feedback-ID
 * (`delivery:typology:sender`), so its feedback loop reports complaints by delivery.
 */
export function listHeaders(deliveryId: string, content: Pick<MessageContent, 'unsubscribeFrom' | 'typology'>, senderDomain: string): Record<string, string> {
  const list = content.unsubscribeFrom && content.unsubscribeFrom !== 'everything' ? content.unsubscribeFrom.list : undefined;
  const label = (list ?? 'mailings').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'mailings';
  const field = (v: string) => v.replace(/[^A-Za-z0-9_.-]+/g, '-');
  return {
    'List-Id': `"${list ?? `Mailings of ${senderDomain}`}" <${label}.${senderDomain}>`,
    'Feedback-ID': `${field(deliveryId)}:${field(content.typology?.name ?? 'default')}:${field(senderDomain)}`,
  };
}
