// What the outside world and ops can do by accident or on purpose, on the real stack: unsubscribe through
// any profile of an address, unsubscribe after the preparation, click after the delivery is sent, reuse a
// delivery id, personalize a link's host.
import { startDelivery } from '../../client/deliveries';
import { optOuts } from '../../store/opt-outs';
import { kpisQuery, WORKFLOW_TYPE } from '../../workflows/messages';
import { inputFiles, runCli, workflowCount } from '../helpers/cli';
import { baseSpec, clearData, eventually, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

const TRACKED = '<p>Hi {{firstName}}</p><a href="https://shop.example/sale?u={{email}}">Sale</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>';

describe('subscriptions, delivery ids and links cannot be turned against the data', () => {
  let stack: TestStack;
  const file = inputFiles('inbound-');
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  const mailTo = (deliveryId: string, to: string) => stack.sink.messages.find((m) => m.to === to && m.mail.headers.get('x-delivery-id') === deliveryId)!.mail;
  const unsubscribeUrl = (mail: { headerLines: ReadonlyArray<{ key: string; line: string }> }) =>
    /<([^>]+)>/.exec(mail.headerLines.find((h) => h.key === 'list-unsubscribe')!.line)![1];
  const oneClick = (url: string) => fetch(url, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });

  it('an unsubscription through one profile opts out the address for every profile that has it, in any case', async () => {
    await seedProfiles(stack.db, [{ email: 'alice@example.com', firstName: 'A1' }, { email: 'Alice@Example.com', firstName: 'A2' }, { email: 'bob@example.com' }]);
    const first = await stack.start(baseSpec({ html: TRACKED }));
    await first.result();
    expect((await oneClick(unsubscribeUrl(mailTo(first.workflowId, 'alice@example.com')))).status).toBe(200);
    expect(await stack.db.optOut.findUnique({ where: { address: 'alice@example.com' } })).toMatchObject({ source: 'unsubscribe link', deliveryId: first.workflowId });

    const next = await stack.start(baseSpec({ html: TRACKED, name: 'Next week' }));
    await next.result();
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: next.workflowId }, orderBy: { profileId: 'asc' } });
    expect(rows.map((r) => [r.email, r.status, r.exclusionCause])).toEqual([
      ['alice@example.com', 'ignored', 'opted out'], ['Alice@Example.com', 'ignored', 'opted out'], ['bob@example.com', 'sent', null],
    ]);
  });

  it('a prepared, scheduled delivery does not send to a recipient who unsubscribed before the contact date, and counts them', async () => {
    // 14 addresses that opt out later come first: a whole claimed batch (12 rows here) is barred at send time
    const gone = Array.from({ length: 14 }, (_, i) => `gone${i + 1}@example.com`);
    await seedProfiles(stack.db, [...gone.map((email) => ({ email })), { email: 'carol@example.com' }, { email: 'dan@example.com' }]);
    const earlier = await stack.start(baseSpec({ html: TRACKED, name: 'Earlier', audience: { where: { email: ['carol@example.com'] } } }));
    await earlier.result();
    const scheduled = await stack.start(baseSpec({ html: TRACKED, name: 'Scheduled', scheduleAt: new Date(Date.now() + 4000).toISOString() }));
    await waitForState(scheduled, 'scheduled');
    expect(await stack.db.sendingLog.count({ where: { deliveryId: scheduled.workflowId, status: 'pending' } })).toBe(16); // all prepared
    // Carol unsubscribes through the earlier delivery's message, after the preparation of this one; the others by import
    expect((await oneClick(unsubscribeUrl(mailTo(earlier.workflowId, 'carol@example.com')))).status).toBe(200);
    await optOuts(stack.db).add(gone.map((g) => g.toUpperCase()), 'profile import');
    const outcome = await scheduled.result();
    expect(outcome.kpis).toMatchObject({ toDeliver: 16, sent: 1, excludedAtSend: 15, pending: 0, failed: 0 });
    expect(await stack.db.sendingLog.findFirst({ where: { deliveryId: scheduled.workflowId, email: 'carol@example.com' } }))
      .toMatchObject({ status: 'ignored', exclusionCause: 'opted out since the preparation', sentAt: null });
    expect(stack.sink.messages.filter((m) => m.mail.headers.get('x-delivery-id') === scheduled.workflowId).map((m) => m.to)).toEqual(['dan@example.com']);
    const snapshot = await runCli(stack, ['status', scheduled.workflowId]);
    expect(snapshot.stdout).toMatch(/Excluded at send\s+15/);
  });

  it('keeps the KPIs live after sending by default: a click moves them within 5 s once the delivery is sent', async () => {
    await seedProfiles(stack.db, [{ email: 'erin@example.com' }]);
    const { trackingHours: _none, ...spec } = baseSpec({ html: TRACKED, name: 'Live' });
    const handle = await stack.start(spec);
    await waitForState(handle, 'sent');
    const click = /href="([^"]+\/c\/[^"]+)"/.exec(String(mailTo(handle.workflowId, 'erin@example.com').html))![1];
    expect((await fetch(click, { redirect: 'manual' })).status).toBe(302);
    const clickedAt = Date.now();
    await eventually(async () => (await handle.query(kpisQuery)).clicks === 1, 5000, 'the click in the KPIs');
    expect(Date.now() - clickedAt).toBeLessThan(5000);
    const { status } = await handle.describe();
    expect(status.name).toBe('RUNNING'); // in its tracking period (7 days by default)
    await handle.cancel(); // stop ends the tracking period early; the delivery stays sent
    expect((await handle.result()).state).toBe('sent');
  });

  it('refuses to reuse a delivery id, and the first delivery\'s links keep working', async () => {
    await seedProfiles(stack.db, [{ email: 'fay@example.com' }]);
    const first = await startDelivery(stack.client, stack.taskQueue, baseSpec({ html: TRACKED }), 'weekly-news-42');
    await first.result();
    const link = /href="([^"]+\/c\/[^"]+)"/.exec(String(mailTo('weekly-news-42', 'fay@example.com').html))![1];
    const rowsBefore = await stack.db.sendingLog.findMany({ where: { deliveryId: 'weekly-news-42' } });

    const again = await runCli(stack, ['start', file('again.json', JSON.stringify(baseSpec({ html: TRACKED }))), '--id', 'weekly-news-42']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('the delivery id "weekly-news-42" is taken by an earlier delivery');
    // started behind the CLI's back (temporal CLI, another script): the preparation refuses it
    const forced = await stack.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: stack.taskQueue, workflowId: 'weekly-news-42', args: [baseSpec({ html: TRACKED })], workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    await expect(forced.result()).rejects.toMatchObject({ cause: { message: expect.stringContaining('Preparation failed: the delivery id "weekly-news-42" belongs to an earlier delivery') } });
    const status = await runCli(stack, ['logs', 'weekly-news-42']);
    expect(status.stdout).toContain('belongs to an earlier delivery');

    expect(await stack.db.sendingLog.findMany({ where: { deliveryId: 'weekly-news-42' } })).toEqual(rowsBefore);
    const res = await fetch(link, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example/sale?u=fay@example.com');
  });

  it('refuses a template whose tracked link takes its host from profile data, naming the link', async () => {
    await seedProfiles(stack.db, [{ email: 'gus@example.com', attributes: { shop: 'evil.example/phish?' } }]);
    const html = '<a href="https://shop.example/">Home</a> <a href="https://{{attributes.shop}}.shop.example/offers">Offers</a>';
    const before = await workflowCount(stack);
    const cli = await runCli(stack, ['start', file('host.json', JSON.stringify(baseSpec({ html })))]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('html: link 2 "https://{{attributes.shop}}.shop.example/offers" takes its scheme or host from a field');
    expect(await workflowCount(stack)).toBe(before);
    // the preparation refuses it too, whoever starts the workflow
    const forced = await stack.client.workflow.start(WORKFLOW_TYPE, { taskQueue: stack.taskQueue, workflowId: `host-${Date.now()}`, args: [baseSpec({ html })] });
    await expect(forced.result()).rejects.toMatchObject({ cause: { message: expect.stringContaining('Preparation failed: html: link 2 "https://{{attributes.shop}}') } });
    expect(stack.sink.messages.filter((m) => m.to === 'gus@example.com')).toHaveLength(0);
  });
});
