import { deliveryMessages, listHeaders } from '../../domain/message';
import { signedMessageId } from '../../domain/bounce-references';
import { trackingCounts, kpisWithTracking, kpisWithSending, emptyKpis } from '../../domain/delivery';
import { decodeHtmlEntities, literalOrigin, redirectTarget, signToken, trackLinks, verifyToken, MAX_TRACKED_LINKS } from '../../domain/tracking';
import { rateLimiter } from '../../tracking/rate-limit';

const SECRET = 'unit-test-secret-0123456789';
const target = { deliveryId: 'welcome-2026', sendingLogId: 42, linkId: 3 };

describe('tracking tokens', () => {
  it('name the delivery, the recipient and the link they were made for', () => {
    expect(verifyToken(SECRET, 'click', signToken(SECRET, 'click', target))).toEqual(target);
  });

  it('identify nothing once altered, made for another kind, or signed with another key', () => {
    const token = signToken(SECRET, 'click', target);
    const [delivery, log, link, tag] = token.split('.');
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    for (const forged of [
      `${delivery}.${log}.${link}.${flip(tag)}`,
      `${delivery}.43.${link}.${tag}`,
      `${delivery}.${log}.4.${tag}`,
      `${Buffer.from('other-delivery').toString('base64url')}.${log}.${link}.${tag}`,
      `${token}x`, '', 'a.b.c.d', `${delivery}.${log}.${link}`,
    ]) expect(verifyToken(SECRET, 'click', forged)).toBeUndefined();
    expect(verifyToken(SECRET, 'open', token)).toBeUndefined();
    expect(verifyToken('another-secret-0123456789', 'click', token)).toBeUndefined();
  });
});

describe('link tracking', () => {
  it('rewrites web links once per distinct href, and leaves unsubscribe, mirror, mailto and anchors alone', () => {
    const { html, links } = trackLinks(
      '<a href="https://shop.example/sale?u={{email}}">Sale</a> <a class="x" href=\'https://shop.example/about\'>About</a>' +
      '<a href="https://shop.example/sale?u={{email}}">Sale again</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>' +
      '<a href="{{mirrorPageUrl}}">View online</a> <a href="https://shop.example/unsubscribe">Opt out</a>' +
      '<a href="mailto:help@shop.example">Mail us</a> <a href="#top">Top</a> <a href="{{attributes.site}}">Your site</a>',
    );
    expect(links).toEqual([
      { id: 1, source: 'https://shop.example/sale?u={{email}}' },
      { id: 2, source: 'https://shop.example/about' },
      { id: 3, source: '{{attributes.site}}' },
    ]);
    expect(html).toContain('<a href="{{_clickUrls.l1}}">Sale</a>');
    expect(html).toContain("href='{{_clickUrls.l2}}'");
    expect(html.match(/_clickUrls\.l1/g)).toHaveLength(2);
    expect(html).toContain('href="{{unsubscribeUrl}}"');
    expect(html).toContain('href="https://shop.example/unsubscribe"');
    expect(html).toContain('href="mailto:help@shop.example"');
  });

  it(`tracks at most ${MAX_TRACKED_LINKS} distinct links`, () => {
    const html = Array.from({ length: MAX_TRACKED_LINKS + 5 }, (_, i) => `<a href="https://shop.example/${i}">${i}</a>`).join('');
    const tracked = trackLinks(html);
    expect(tracked.links).toHaveLength(MAX_TRACKED_LINKS);
    expect(tracked.html).toContain(`href="https://shop.example/${MAX_TRACKED_LINKS + 4}"`);
  });

  it('redirects only to absolute http(s) addresses, decoding HTML entities as a browser would', () => {
    expect(redirectTarget('https://shop.example/p?a=1&amp;b=2')?.href).toBe('https://shop.example/p?a=1&b=2');
    // What Handlebars escapes in a field ("=", "'", "`") comes back, and a newline written as an entity is refused.
    expect(redirectTarget('https://shop.example/p?q&#x3D;a&#x27;b&#x60;')?.href).toBe('https://shop.example/p?q=a%27b`');
    expect(redirectTarget('https://a.example/&#13;&#10;Set-Cookie: x')).toBeUndefined();
    expect(decodeHtmlEntities('&lt;b&gt; &#233; &#x1F600; &nbsp; &#0; &#x110000;')).toBe('<b> é 😀 &nbsp; &#0; &#x110000;');
    for (const bad of ['javascript:alert(1)', '//evil.example', '/relative', 'data:text/html,x', 'https://a.example/\r\nSet-Cookie: x', '']) {
      expect(redirectTarget(bad)).toBeUndefined();
    }
  });
});

describe('a tracked message', () => {
  const messages = deliveryMessages('welcome', {
    from: 'Shop <news@shop.example>',
    subject: 'Hi {{firstName}}',
    html: '<html><body><a href="https://shop.example/p?u={{email}}&amp;x=1">Product</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a></body></html>',
    text: 'Unsubscribe: {{unsubscribeUrl}}',
  }, { baseUrl: 'https://t.shop.example', secret: SECRET });

  it('carries signed click, open and unsubscribe URLs and the RFC 8058 headers', () => {
    const m = messages.compose(7, { firstName: 'Ann', email: 'ann@example.com' });
    const click = /href="https:\/\/t\.shop\.example\/c\/([^"]+)"/.exec(m.html)![1];
    expect(verifyToken(SECRET, 'click', click)).toEqual({ deliveryId: 'welcome', sendingLogId: 7, linkId: 1 });
    const pixel = /<img src="https:\/\/t\.shop\.example\/o\/([^"]+)"[^>]*><\/body>/.exec(m.html)![1];
    expect(verifyToken(SECRET, 'open', pixel)).toEqual({ deliveryId: 'welcome', sendingLogId: 7, linkId: 0 });
    const unsubscribe = /^<(https:\/\/t\.shop\.example\/u\/[^>]+)>$/.exec(m.headers['List-Unsubscribe'])![1];
    expect(m.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(m.html).toContain(`href="${unsubscribe}"`);
    expect(m.text).toBe(`Unsubscribe: ${unsubscribe}`);
    expect(m.messageId).toBe(signedMessageId(SECRET, 7, 'shop.example'));
    expect(m.messageId).not.toContain('welcome'); // the delivery id (in X-Delivery-Id) does not help to guess it
  });

  it('carries List-Id (the list the unsubscribe link leaves, else the sender) and Gmail\'s Feedback-ID', () => {
    expect(messages.compose(7, { firstName: 'Ann' }).headers).toMatchObject({
      'List-Id': '"Mailings of shop.example" <mailings.shop.example>', 'Feedback-ID': 'welcome:default:shop.example',
    });
    expect(listHeaders('d-1', { unsubscribeFrom: { list: 'Weekly_News' }, typology: { name: 'newsletter' } }, 'shop.example')).toEqual({
      'List-Id': '"Weekly_News" <weekly-news.shop.example>', 'Feedback-ID': 'd-1:newsletter:shop.example',
    });
  });

  it('redirects only to the scheme and host the template wrote, whatever the profile data', () => {
    expect(literalOrigin('https://shop.example/p?u={{email}}')).toBe('https://shop.example');
    expect(literalOrigin('HTTPS://Shop.Example')).toBe('https://shop.example');
    for (const source of ['https://{{attributes.shop}}.shop.example/offers', 'https://shop.example{{path}}', 'https://shop.example:{{port}}/',
      'https://{{user}}@shop.example/', '{{attributes.site}}', 'https://shop.example\\{{p}}']) expect(literalOrigin(source)).toBeUndefined();
    const sneaky = deliveryMessages('d', { from: 'a@shop.example', subject: 's', html: '<a href="https://shop.example/{{attributes.p}}">x</a>' }, { baseUrl: 'https://t', secret: SECRET });
    expect(sneaky.linkTarget(1, { attributes: { p: 'offers?x=1' } })?.href).toBe('https://shop.example/offers?x=1');
    // the path may not climb to another host: rendered, it is still shop.example or nothing
    for (const p of ['/evil.example', '\\evil.example', '@evil.example']) expect(sneaky.linkTarget(1, { attributes: { p } })?.origin ?? 'https://shop.example').toBe('https://shop.example');
  });

  it('resolves a click to the link rendered for the recipient, and has no pixel on the mirror page', () => {
    expect(messages.linkTarget(1, { email: 'ann@example.com' })?.href).toBe('https://shop.example/p?u=ann@example.com&x=1');
    expect(messages.linkTarget(2, { email: 'ann@example.com' })).toBeUndefined();
    expect(messages.compose(7, {}, { openPixel: false }).html).not.toContain('/o/');
  });
});

describe('tracking KPIs', () => {
  it('count distinct openers and clickers over delivered, and clicks per link', () => {
    const counts = trackingCounts([
      { kind: 'open', linkId: 0, total: 9, recipients: 4 },
      { kind: 'click', linkId: 1, total: 5, recipients: 3 },
      { kind: 'click', linkId: 2, total: 2, recipients: 2 },
      { kind: 'mirror', linkId: 0, total: 3, recipients: 1 },
      { kind: 'unsubscribe', linkId: 0, total: 2, recipients: 1 },
    ], 4, (id) => (id === 1 ? 'https://shop.example/a' : undefined));
    expect(counts).toEqual({
      opens: 4, totalOpens: 9, clicks: 4, totalClicks: 7, unsubscriptions: 1, mirrorPageViews: 3,
      clicksByLink: { 'https://shop.example/a': 5, 'link 2': 2 },
    });
    const sent = kpisWithSending({ ...emptyKpis(), toDeliver: 10 }, { sent: 10, delivered: 8, failed: 2, possibleDuplicates: 0, excludedAtSend: 0 });
    expect(kpisWithTracking(sent, counts)).toMatchObject({ openRate: 50, clickRate: 50 });
  });
});

describe('the tracking rate limiter', () => {
  it('lets a burst through, refuses a flood, and refills with time', () => {
    let now = 0;
    const limiter = rateLimiter({ perSecond: 10, burst: 20 }, () => now);
    const allowed = Array.from({ length: 50 }, () => limiter.take('1.2.3.4')).filter(Boolean).length;
    expect(allowed).toBe(20);
    expect(limiter.take('5.6.7.8')).toBe(true); // another client is not affected
    now += 1000;
    expect(Array.from({ length: 50 }, () => limiter.take('1.2.3.4')).filter(Boolean).length).toBe(10);
  });
});
