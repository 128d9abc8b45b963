// `delivery eml-links <file>`: the links of a saved message, decoded from quoted-printable, as a user runs it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deliveryMessages } from '../../domain/message';
import { mimeSkeleton } from '../../domain/mime';

const ROOT = path.resolve(__dirname, '..', '..');

describe('the links of a saved .eml message', () => {
  it('prints every link, the open pixel and List-Unsubscribe decoded, where the file holds them quoted-printable', () => {
    const content = {
      from: 'Shop <news@shop.example>', subject: 'Sale',
      html: '<p>Hi {{firstName}}</p><a href="https://shop.example/sale?utm_source=email&amp;utm_campaign=winter-2026-very-long-campaign-name">Winter &amp; sale</a> <a href="{{mirrorUrl}}">View online</a>',
    };
    const messages = deliveryMessages('d-eml', content, { baseUrl: 'https://t.shop.example', secret: 's'.repeat(32) });
    const composed = messages.compose(42, { firstName: 'Ann', email: 'ann@example.com' });
    const raw = mimeSkeleton(content.from, 'd-eml')({ to: 'ann@example.com', ...composed });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'eml-')), 'message.eml');
    fs.writeFileSync(file, raw);

    const expected = [...composed.html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
    expect(expected.length).toBe(3); // two tracked links and the pixel
    // In the file, the long tracked URLs are broken across lines or escaped: not clickable as they stand.
    for (const url of expected) expect(raw.includes(url)).toBe(false);

    const out = execFileSync(process.execPath, [path.join(ROOT, 'client', 'bin.js'), 'eml-links', file], { cwd: ROOT, encoding: 'utf8' });
    for (const url of expected) expect(out).toContain(`  ${url}\n`);
    expect(out).toContain('link "Winter & sale"');
    expect(out).toContain('open pixel');
    expect(out).toContain(`List-Unsubscribe header\n  ${/<([^>]+)>/.exec(composed.headers['List-Unsubscribe'])![1]}`);

    const json = JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'client', 'bin.js'), 'eml-links', file, '--json'], { cwd: ROOT, encoding: 'utf8' })) as Array<{ url: string }>;
    expect(json.map((l) => l.url)).toEqual(expect.arrayContaining(expected));
  }, 30_000);
});
