// The Temporal Web UI as ops see it, in headless Debian Chromium (playwright-core drives the system
// browser: nothing is downloaded). Screenshots are kept in .data/test/artifacts.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { kpisQuery } from '../../workflows/messages';
import { TEST_DATA } from '../helpers/paths';
import { baseSpec, eventually, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(TEST_DATA, 'artifacts');

/** Waits until some frame of the page shows the text. */
async function shown(page: Page, text: RegExp): Promise<void> {
  await eventually(async () => {
    for (const frame of page.frames()) {
      if ((await frame.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').match(text)) return true;
    }
    return false;
  }, 30_000, `the Web UI showing ${text}`);
}

describe('a delivery in the Temporal Web UI', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startTestStack({ ui: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows the delivery with its state and live KPI summary, and lists it by state', async () => {
    await seedProfiles(stack.db, ['ann', 'bob', 'cid', 'dan'].map((n) => ({ email: `${n}@example.com`, firstName: n })));
    const handle = await stack.start(baseSpec({
      name: 'Winter sale', subject: 'Winter sale, {{firstName}}', trackingHours: 1,
      html: '<p>Hi {{firstName}}</p><a href="https://shop.example/sale">Sale</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>',
    }));
    await waitForState(handle, 'sent');
    const html = String(stack.sink.messages[0].mail.html);
    await fetch(/<img src="([^"]+)"/.exec(html)![1]);
    await eventually(async () => (await handle.query(kpisQuery)).opens === 1, 5000, 'an open');

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${stack.uiUrl}/namespaces/default/workflows/${handle.workflowId}`);
    await page.getByText('emailDelivery').filter({ visible: true }).first().waitFor({ timeout: 30_000 });
    await page.getByText('User Metadata').filter({ visible: true }).first().click(); // the workflow's summary, details and current details
    // The UI renders this markdown in sandboxed frames (and curls the quotes).
    await shown(page, /Delivery .Winter sale./);
    // The workflow's current details: the live summary set by the workflow (state and KPIs).
    await shown(page, /sent · targeted 4 · to deliver 4 · excluded 0 · sent 4 · delivered 4 · errors 0 · pending 0 · opens 1 \(25\.0%\)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-delivery.png'), fullPage: true });

    await page.goto(`${stack.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('DeliveryState = "sent"')}`);
    await page.getByText(handle.workflowId).filter({ visible: true }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-deliveries.png') });
    expect(fs.statSync(path.join(ARTIFACTS, 'web-ui-delivery.png')).size).toBeGreaterThan(10_000);
  });
});
