import { simpleParser } from 'mailparser';
import { mimeSkeleton, quotedPrintable } from '../../domain/mime';

const message = {
  to: 'zoe@example.com',
  subject: 'Bonjour Zoé, "nos" nouveautés',
  messageId: '<welcome.42@shop.example>',
  headers: { 'X-Delivery-Id': 'welcome', 'List-Unsubscribe': '<https://t.example/u/abc>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  html: `<html><body><p style="color:red">Prix = 10 €</p>${'<a href="https://shop.example/p?a=1&b=2">lampe</a> '.repeat(40)}\n.dot line \nend</body></html>`,
  text: 'Bonjour Zoé,\r\nligne avec espaces   \n\n= et € sur une ligne très longue '.repeat(10),
};

/** mailparser gives line breaks as LF. */
const lf = (s: string) => s.replace(/\r\n/g, '\n');

function decodeQp(qp: string): string {
  const bytes = qp.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

describe('quoted-printable bodies', () => {
  it('decode to the text with CRLF line breaks, in lines of at most 76 characters', () => {
    for (const text of [message.html, message.text, 'é'.repeat(200), 'a'.repeat(75), 'trailing tab\t', '', 'x\r y']) {
      const qp = quotedPrintable(text);
      expect(decodeQp(qp)).toBe(text.replace(/\r?\n/g, '\r\n'));
      for (const line of qp.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
      expect(qp).not.toMatch(/[ \t]\r\n|[ \t]$/); // no space or tab left at the end of a line
      expect(qp).not.toMatch(/[^\t\r\n\x20-\x7e]/); // 7-bit only
    }
  });
});

describe('messages built from the skeleton', () => {
  it('read back with every header and both parts as given', async () => {
    const build = mimeSkeleton('Boutique Émile <news@shop.example>', 'welcome');
    const parsed = await simpleParser(build(message));
    expect(parsed.from?.value).toEqual([{ name: 'Boutique Émile', address: 'news@shop.example' }]);
    expect(parsed.to && !Array.isArray(parsed.to) && parsed.to.value).toEqual([{ name: '', address: 'zoe@example.com' }]);
    expect(parsed.subject).toBe(message.subject);
    expect(parsed.messageId).toBe(message.messageId);
    expect(parsed.date?.getTime()).toBeGreaterThan(Date.now() - 5000);
    expect(parsed.headers.get('x-delivery-id')).toBe('welcome');
    expect(parsed.headerLines.find((h) => h.key === 'list-unsubscribe')?.line).toBe('List-Unsubscribe: <https://t.example/u/abc>');
    expect(parsed.html).toBe(lf(message.html));
    expect(parsed.text).toBe(lf(message.text));
  });

  it('have one HTML part when there is no text, and quote sender names with specials', async () => {
    const build = mimeSkeleton('"Shop, Inc." <news@shop.example>', 'welcome');
    const raw = build({ ...message, text: undefined });
    expect(raw).not.toMatch(/multipart/);
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ name: 'Shop, Inc.', address: 'news@shop.example' }]);
    expect(parsed.html).toBe(lf(message.html));
  });

  it('cannot be given extra headers through a personalized subject', async () => {
    const raw = mimeSkeleton('news@shop.example', 'welcome')({ ...message, subject: 'Hi\r\nBcc: victim@example.com' });
    const parsed = await simpleParser(raw);
    expect(parsed.bcc).toBeUndefined();
    expect(parsed.subject).toBe('Hi Bcc: victim@example.com');
  });

  it('drop NUL, ESC and other control characters that profile data brings to a header', async () => {
    const raw = mimeSkeleton('news@shop.example', 'welcome')({ ...message, subject: 'Hi \u0000Zoe\u001b[31m, \u0007news' });
    expect(raw).not.toMatch(/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/);
    expect((await simpleParser(raw)).subject).toBe('Hi Zoe[31m, news');
  });
});
