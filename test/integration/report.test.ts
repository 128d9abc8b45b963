// `delivery report`: a picture of a delivery, read from the database, and its HTML page drawn in a real headless
// Chromium (playwright-core drives Debian's browser: nothing is downloaded) with no console error.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { kpisQuery } from '../../workflows/messages';
import type { DeliveryReport } from '../../domain/report';
import { TEST_DATA } from '../helpers/paths';
import { runCli } from '../helpers/cli';
import { baseSpec, eventually, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(TEST_DATA, 'artifacts');

describe('the report of a delivery', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startTestStack({ refuseRecipient: (a) => (a.startsWith('gone') ? { code: 550, message: `5.1.1 <${a}>: user unknown` } : undefined) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('counts the funnel, failures by reason and results by domain, and draws them offline in Chromium', async () => {
    const people = [
      ...['ann', 'bob', 'cid', 'dan', 'eve', 'fay'].map((n) => `${n}@gmail.example`),
      ...['gus', 'hal', 'ivy'].map((n) => `${n}@yahoo.example`),
      'gone1@gmail.example', 'gone2@corp.example',
    ];
    await seedProfiles(stack.db, people.map((email) => ({ email, firstName: email.split('@')[0] })));
    const handle = await stack.start(baseSpec({
      name: 'Report: winter sale', trackingHours: 1, audience: { where: { email: { in: people } } },
      html: '<p>Hi {{firstName}}</p><a href="https://shop.example/sale">Sale</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>',
    }));
    await eventually(async () => (await handle.query(kpisQuery)).sent === 9 && (await handle.query(kpisQuery)).failed === 2, 30_000, 'every message sent or failed');
    // Opens by four people (one twice), clicks by two of them.
    const byRecipient = new Map(stack.sink.messages.map((m) => [m.to, String(m.mail.html)]));
    const pixel = (to: string) => /<img src="([^"]+)"/.exec(byRecipient.get(to)!)![1];
    const link = (to: string) => /<a href="([^"]+)"/.exec(byRecipient.get(to)!)![1];
    for (const to of ['ann@gmail.example', 'bob@gmail.example', 'gus@yahoo.example', 'ann@gmail.example', 'hal@yahoo.example']) await fetch(pixel(to));
    for (const to of ['ann@gmail.example', 'gus@yahoo.example']) await fetch(link(to), { redirect: 'manual' });
    await eventually(async () => (await handle.query(kpisQuery)).clicks === 2, 15_000, 'the clicks counted');

    const json = await runCli(stack, ['report', handle.workflowId, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as DeliveryReport;
    expect(report.funnel).toEqual({ targeted: 11, excluded: 0, delivered: 9, opened: 4, clicked: 2 });
    expect(report.failuresByReason).toEqual([expect.objectContaining({ type: 'hard', count: 2 })]);
    expect(report.byDomain.map((d) => [d.domain, d.targeted, d.delivered, d.failed, d.opened, d.clicked])).toEqual([
      ['gmail.example', 7, 6, 1, 2, 1], ['yahoo.example', 3, 3, 0, 2, 1], ['corp.example', 1, 0, 1, 0, 0],
    ]);
    expect(report.timeline.sent.reduce((a, b) => a + b, 0)).toBe(9);
    expect(report.timeline.opens.reduce((a, b) => a + b, 0)).toBe(4); // repeats within a minute count once
    const text = await runCli(stack, ['report', handle.workflowId]);
    expect(text.stdout).toMatch(/Opened\s+4\s+44\.4%/);
    expect(text.stdout).toMatch(/gmail\.example\s+7\s+6\s+1\s+2\s+1/);

    const file = path.join(ARTIFACTS, 'report.html');
    expect((await runCli(stack, ['report', handle.workflowId, '--html', file])).code).toBe(0);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`network request: ${r.url()}`); });
    await page.goto(`file://${file}`);
    await page.waitForFunction('window.reportReady === true', undefined, { timeout: 10_000 });
    // Every chart drew something: each canvas has pixels that are not blank (run in the page, hence as text).
    const drawn = await page.evaluate(`[...document.querySelectorAll('canvas')].map((c) => {
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
      return inked;
    })`) as number[];
    expect(drawn).toHaveLength(5);
    for (const inked of drawn) expect(inked).toBeGreaterThan(500);
    expect(await page.locator('#domain-table tr').count()).toBe(4); // header and three domains
    expect(problems).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
    await handle.cancel();
  }, 90_000);

  it('names a delivery it does not know, and changes nothing', async () => {
    const r = await runCli(stack, ['report', 'no-such-delivery']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No delivery no-such-delivery in the database');
  });
});
