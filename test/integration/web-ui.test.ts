// The Temporal Web UI as ops see it, in headless Debian Chromium (playwright-core drives the system
// browser: nothing is downloaded). Screenshots are kept in .data/test/artifacts.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { kpisQuery, pauseUpdate } from '../../workflows/messages';
import { deliveriesLink } from '../../temporal/web-ui';
import type { DeliveryHandle } from '../../client/deliveries';
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

/** Opens the Send a Signal dialog from the page's actions menu (Temporal UI 2.54). */
async function openSendSignal(page: Page): Promise<void> {
  await page.getByText('emailDelivery').filter({ visible: true }).first().waitFor({ timeout: 30_000 });
  const menu = page.getByRole('button', { name: /more actions/i }).filter({ visible: true });
  if (await menu.count()) await menu.first().click();
  await page.getByText('Send a Signal').filter({ visible: true }).first().click();
}

/** The signal names the dialog's list offers (opened as a user would). */
async function signalChoices(page: Page): Promise<string[]> {
  const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
  await dialog.getByTestId('signal-select-button').click();
  const options = dialog.getByRole('option').filter({ visible: true });
  await options.first().waitFor({ timeout: 10_000 });
  return (await options.allInnerTexts()).map((t) => t.trim());
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
    // The workflow's current details: the situation, then the live KPIs (set by the workflow).
    await shown(page, /Sent; collecting opens and clicks until/);
    await shown(page, /sent · targeted 4 · to deliver 4 · excluded 0 · sent 4 · delivered 4 · errors 0 · pending 0 · opens 1 \(25\.0%\)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-delivery.png'), fullPage: true });

    await page.goto(`${stack.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('DeliveryState = "sent"')}`);
    await page.getByText(handle.workflowId).filter({ visible: true }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-deliveries.png') });
    expect(fs.statSync(path.join(ARTIFACTS, 'web-ui-delivery.png')).size).toBeGreaterThan(10_000);
  });

  it('leads the current details with the situation: manual, sending, paused, stopped; Send a Signal offers the commands only', async () => {
    // 0.1 msg/s: four messages take 30 s, so the "sending" one is still sending when its page is read on a loaded machine.
    const slow = (name: string, extra: Record<string, unknown> = {}) => stack.start(baseSpec({ name, messagesPerSecond: 0.1, ...extra }));
    const manual = await stack.start(baseSpec({ name: 'Spring sale', approval: 'manual' }));
    const sending = await slow('Summer sale');
    const paused = await slow('Autumn sale');
    const stopped = await slow('Clearance');
    await waitForState(manual, 'prepared');
    for (const h of [sending, paused, stopped]) {
      await waitForState(h, 'sending');
      await eventually(async () => (await h.query(kpisQuery)).sent >= 1, 20_000, 'a first message sent');
    }
    await paused.executeUpdate(pauseUpdate);
    await waitForState(paused, 'paused');
    await stopped.cancel();
    await waitForState(stopped, 'stopped');

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const situations: Array<[string, DeliveryHandle, RegExp]> = [
      ['manual', manual, /Waiting for confirm \(manual approval\); 4 to deliver/],
      ['sending', sending, /Sending \d \/ 4 \(\d+\.\d%\)/],
      ['paused', paused, /Paused \(\d \/ 4 \(\d+\.\d%\)\); resume to go on/],
      ['stopped', stopped, /Stopped: \d sent, \d cancelled/],
    ];
    for (const [label, handle, situation] of situations) {
      await page.goto(`${stack.uiUrl}/namespaces/default/workflows/${handle.workflowId}`);
      await page.getByText('User Metadata').filter({ visible: true }).first().click();
      await shown(page, situation);
      await page.screenshot({ path: path.join(ARTIFACTS, `web-ui-${label}.png`), fullPage: true });
    }

    // Send a Signal (under the page's actions) lists the workflow's signal handlers: the commands, not `progress`.
    await page.goto(`${stack.uiUrl}/namespaces/default/workflows/${manual.workflowId}`);
    await openSendSignal(page);
    const offered = await signalChoices(page);
    expect(offered).toEqual(expect.arrayContaining(['confirm', 'proof', 'pause', 'resume']));
    expect(offered).not.toContain('progress');
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-send-signal.png') });
    await manual.cancel();
    await sending.cancel();
    await paused.cancel();
  }, 120_000);

  it("follows the README's steps in UI 2.54: the deliveries link, Configure Columns, Save as New; the audience reads as JSON", async () => {
    await seedProfiles(stack.db, [{ email: 'eve@example.com', firstName: 'eve' }]);
    const targeted = await stack.start(baseSpec({ name: 'Eve only', approval: 'manual', audience: { where: { email: 'eve@example.com' } } }));
    await waitForState(targeted, 'prepared');
    const page = await browser.newPage({ viewport: { width: 1600, height: 700 } });
    await page.goto(`${stack.uiUrl}/namespaces/default/workflows/${targeted.workflowId}`);
    await page.getByText('User Metadata').filter({ visible: true }).first().click();
    await shown(page, /Audience: profiles where \{"email":"eve@example\.com"\}/); // straight quotes: pastes back as JSON

    await page.goto(deliveriesLink(stack.uiUrl!, 'default'));
    await page.getByText(targeted.workflowId).filter({ visible: true }).first().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Configure Columns' }).click();
    for (const column of ['DeliveryName', 'DeliveryState', 'DeliverySent', 'DeliveryPausedBy']) {
      await page.getByRole('button', { name: `Add ${column} column` }).click();
    }
    for (const column of ['Run ID', 'Type', 'End']) await page.getByRole('button', { name: `Remove ${column} column` }).click();
    await page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();
    await page.getByRole('button', { name: 'Save as New' }).click();
    await page.getByTestId('workflow-save-view-modal-input').fill('Deliveries');
    await page.getByRole('dialog').filter({ visible: true }).getByRole('button', { name: 'Save', exact: true }).click();
    await shown(page, /Deliveries Edit Duplicate/); // the saved view, current
    await shown(page, /DeliveryName DeliveryState DeliverySent DeliveryPausedBy/);
    await shown(page, /Eve only prepared/); // its name and state in their columns
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-columns.png') });
    await targeted.cancel();
    expect(page.url()).toContain(encodeURIComponent('WorkflowType = "emailDelivery"'));
  }, 90_000);
});

