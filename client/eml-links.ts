// The links of a saved message (.eml, as the capture server writes them), decoded: quoted-printable breaks long
// URLs across lines and writes "=" as "=3D", so they cannot be clicked or fetched from the file itself.
import { simpleParser } from 'mailparser';
import { decodeHtmlEntities } from '../domain/tracking';

export interface EmlLink {
  /** Where the link sits: an HTML link (its text), the open pixel, an image, the List-Unsubscribe header. */
  what: string;
  url: string;
}

const textOf = (html: string) => decodeHtmlEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();

export async function emlLinks(raw: Buffer | string): Promise<EmlLink[]> {
  const mail = await simpleParser(raw);
  const links: EmlLink[] = [];
  const headerText = (mail.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '').replace(/\r?\n[ \t]+/g, '');
  for (const m of headerText.matchAll(/<(https?:[^>]+)>/g)) links.push({ what: 'List-Unsubscribe header', url: m[1] });
  const html = typeof mail.html === 'string' ? mail.html : '';
  for (const m of html.matchAll(/<a\b[^>]*\bhref\s*=\s*("([^"]*)"|'([^']*)')[^>]*>([\s\S]*?)<\/a>/gi)) {
    links.push({ what: `link "${textOf(m[4]).slice(0, 60)}"`, url: decodeHtmlEntities(m[2] ?? m[3]) });
  }
  for (const m of html.matchAll(/<img\b[^>]*\bsrc\s*=\s*("([^"]*)"|'([^']*)')[^>]*>/gi)) {
    const url = decodeHtmlEntities(m[2] ?? m[3]);
    links.push({ what: /\/o\/[^/]+$/.test(url) ? 'open pixel' : 'image', url });
  }
  return links;
}
