import { WorkflowFailedError } from '@temporalio/client';
import { editUpdate, exclusionsQuery, logsQuery, statusQuery } from '../../workflows/messages';
import { clearData, baseSpec, manyProfiles, seedProfiles, startTestStack, waitForState, eventually, type TestStack } from '../helpers/stack';
import type { DeliveryHandle } from '../../client/deliveries';

const UNSUBSCRIBE = { html: '<p>Hi {{firstName}}</p><a href="https://shop.example/unsubscribe">Unsubscribe</a>', text: 'Hi {{firstName}}\nhttps://shop.example/unsubscribe' };

describe('typology rules, approval and proofs', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  const logMessages = async (h: DeliveryHandle) => (await h.query(logsQuery)).entries.map((e) => `${e.level}: ${e.message}`);
  const proofLogged = (h: DeliveryHandle, n: number) =>
    eventually(async () => (await logMessages(h)).some((l) => l.startsWith(`info: Proof #${n} sent`)), 60_000, `proof #${n} logged`);
  const excludedBy = async (h: DeliveryHandle, cause: string) =>
    (await stack.db.sendingLog.findMany({ where: { deliveryId: h.workflowId, exclusionCause: cause }, orderBy: { profileId: 'asc' } })).map((r) => r.email);

  it('filtering rules exclude matching profiles, counted and logged by rule name', async () => {
    await seedProfiles(stack.db, [
      { email: 'a@rival.example' }, { email: 'b@RIVAL.example' }, { email: 'c@shop.example', country: 'FR', attributes: { segment: 'staff' } },
      { email: 'd@shop.example', country: 'FR' }, { email: 'e@shop.example' },
    ]);
    const handle = await stack.start(baseSpec({ ...UNSUBSCRIBE, typology: { rules: { filters: [
      { name: 'competitors', where: { domain: 'rival.example' } },
      { name: 'staff', where: { 'attributes.segment': 'staff' } },
    ] } } }));
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ targeted: 5, toDeliver: 2, toExclude: 3, sent: 2 });
    expect(await handle.query(exclusionsQuery)).toEqual({ toExclude: 3, byCause: { 'filter: competitors': 2, 'filter: staff': 1 } });
    expect(await excludedBy(handle, 'filter: competitors')).toEqual(['a@rival.example', 'b@RIVAL.example']);
    expect(await logMessages(handle)).toContainEqual(expect.stringContaining('3 to exclude (filter: competitors: 2, filter: staff: 1)'));
  });

  it('the pressure rule excludes profiles that already received enough messages in the period', async () => {
    await seedProfiles(stack.db, manyProfiles(3));
    const first = await stack.start(baseSpec({ ...UNSUBSCRIBE, audience: { where: { email: ['user1@example.com', 'user2@example.com'] } } }));
    await first.result();
    const second = await stack.start(baseSpec({ ...UNSUBSCRIBE, typology: { rules: { pressure: { maxMessages: 1, periodDays: 7 } } } }));
    const { kpis } = await second.result();
    expect(kpis).toMatchObject({ targeted: 3, toDeliver: 1, toExclude: 2 });
    expect(await excludedBy(second, 'pressure')).toEqual(['user1@example.com', 'user2@example.com']);
  });

  it('the capacity rule keeps at most N recipients by its priority', async () => {
    await seedProfiles(stack.db, manyProfiles(10));
    const handle = await stack.start(baseSpec({ ...UNSUBSCRIBE, typology: { rules: { capacity: { maxRecipients: 4, priority: 'newest' } } } }));
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ targeted: 10, toDeliver: 4, toExclude: 6, sent: 4 });
    expect([...stack.sink.countByRecipient().keys()].sort()).toEqual(['user10@example.com', 'user7@example.com', 'user8@example.com', 'user9@example.com']);
    expect(await excludedBy(handle, 'capacity')).toHaveLength(6);
  });

  it('the control group holds out a reproducible share of the target', async () => {
    await seedProfiles(stack.db, manyProfiles(20));
    const rules = { controlGroup: { percent: 25, seed: 'spring' } };
    const first = await stack.start(baseSpec({ ...UNSUBSCRIBE, typology: { rules } }));
    expect((await first.result()).kpis).toMatchObject({ toDeliver: 15, toExclude: 5 });
    const second = await stack.start(baseSpec({ ...UNSUBSCRIBE, typology: { rules } }));
    await second.result();
    const held = await excludedBy(first, 'control group');
    expect(held).toHaveLength(5);
    expect(await excludedBy(second, 'control group')).toEqual(held);
    expect(stack.sink.messages.some((m) => held.includes(m.to))).toBe(false);
  });

  it('an error-level control rule fails the preparation with a readable log and sends nothing', async () => {
    await seedProfiles(stack.db, manyProfiles(3));
    const handle = await stack.start(baseSpec({ typology: { name: 'marketing' } })); // marketing: unsubscribe link is an error
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'failed', error: expect.stringMatching(/^control rule "unsubscribe link": no unsubscribe link in the HTML and text part/) });
    expect((await logMessages(handle)).slice(-2)).toEqual([
      'error: Preparation failed: control rule "unsubscribe link": no unsubscribe link in the HTML and text part: add a link to {{unsubscribeUrl}} (one-click unsubscribe) or whose URL contains "unsubscribe"',
      'error: 1 error: the delivery cannot be sent; fix the spec and start a new delivery',
    ]);
    expect(stack.sink.messages).toHaveLength(0);
  });

  it('an empty subject fails the preparation; an oversized message is a warning', async () => {
    await seedProfiles(stack.db, [{ email: 'a@example.com', firstName: 'Ann' }, { email: 'b@example.com' }]);
    const empty = await stack.start(baseSpec({ ...UNSUBSCRIBE, subject: '{{firstName}}' }));
    await expect(empty.result()).rejects.toThrow(WorkflowFailedError);
    expect((await empty.query(statusQuery)).error).toMatch(/^control rule "subject": the subject is empty for 1 recipient\(s\) \(first: profile \d+\)$/);

    const big = await stack.start(baseSpec({ ...UNSUBSCRIBE, html: `${UNSUBSCRIBE.html}${'x'.repeat(3000)}`, typology: { rules: { messageSize: { level: 'warning', maxKb: 2 } } } }));
    expect((await big.result()).kpis.sent).toBe(2);
    expect(await logMessages(big)).toContainEqual(expect.stringMatching(/^warning: control rule "message size": 2 message\(s\) exceed 2 KB/));
  });

  it('semi-automatic approval sends a clean preparation at once, and waits for confirm after a warning', async () => {
    await seedProfiles(stack.db, manyProfiles(2));
    // Clean: no DKIM warning either (this relay signs, as an ESP would).
    const clean = await stack.start(baseSpec({ ...UNSUBSCRIBE, approval: 'semi', typology: { rules: { dkimSignature: null } } }));
    expect((await clean.result()).kpis.sent).toBe(2);

    const warned = await stack.start(baseSpec({ approval: 'semi' })); // default typology: a missing unsubscribe link is a warning
    await waitForState(warned, 'prepared');
    expect(await logMessages(warned)).toContainEqual(expect.stringMatching(/^info: Waiting for approval \(the preparation logged warnings\)/));
    await new Promise((r) => setTimeout(r, 1000));
    expect(stack.sink.messages).toHaveLength(2);
    await warned.signal('confirm');
    expect((await warned.result()).kpis.sent).toBe(2);
  });

  it('a required proof gates confirm; an edit prepares again and needs a new proof', async () => {
    await seedProfiles(stack.db, [{ email: 'ann@example.com', firstName: 'Ann' }, { email: 'bob@example.com', firstName: 'Bob' }]);
    const spec = baseSpec({ ...UNSUBSCRIBE, approval: 'manual', proof: { to: ['qa@team.example', 'ann@example.com'], required: true } });
    const handle = await stack.start(spec);
    await waitForState(handle, 'prepared');
    await handle.signal('confirm');
    await handle.signal('proof');
    await proofLogged(handle, 1);
    expect(stack.sink.messages.map((m) => [m.to, m.mail.subject]).sort()).toEqual([['ann@example.com', 'Proof #1: Hello Ann'], ['qa@team.example', 'Proof #1: Hello']]);
    expect(await stack.db.proofLog.count({ where: { deliveryId: handle.workflowId, number: 1, status: 'sent' } })).toBe(2);
    expect(await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, status: 'sent' } })).toBe(0); // proofs are logged apart
    expect(await logMessages(handle)).toContain('warning: confirm ignored: the delivery is prepared; a proof of the current content is required first: send one with the proof command');

    // an invalid edit is refused with its reason and changes nothing
    await expect(handle.executeUpdate(editUpdate, { args: [{ ...spec, html: '{{#if}}' }] })).rejects.toThrow();
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'prepared' });

    await handle.executeUpdate(editUpdate, { args: [{ ...spec, subject: 'New offer for {{firstName}}' }] });
    await waitForState(handle, 'prepared');
    await handle.signal('confirm'); // the proof showed the old content
    await handle.signal('proof');
    // The sink receives the proof before the workflow knows it was sent: a confirm in between is (rightly) refused.
    await proofLogged(handle, 2);
    expect(stack.sink.messages).toHaveLength(4);
    await handle.signal('confirm');
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ toDeliver: 2, sent: 2 });
    const real = stack.sink.messages.slice(4).map((m) => [m.to, m.mail.subject]).sort();
    expect(real).toEqual([['ann@example.com', 'New offer for Ann'], ['bob@example.com', 'New offer for Bob']]);
    const logs = await logMessages(handle);
    expect(logs).toContainEqual(expect.stringMatching(/^info: Content changed \(version 1\): the delivery is prepared again and needs a new proof$/));
    expect(logs.filter((l) => l.startsWith('warning: confirm ignored: the delivery is prepared; a proof'))).toHaveLength(2);
    expect(logs).toContain('info: Proof #2 sent to 2 address(es)');
  });
});
