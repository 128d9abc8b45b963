// An A/B test on the real stack: 100 recipients, 40% in the test, decided by clicks 30 s after the test population is
// sent. Only B's readers click: the 60 others get B, and nobody receives two messages.
import { kpisQuery, statusQuery } from '../../workflows/messages';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

const HTML = '<p>Hi {{firstName}}</p><a href="https://shop.example/sale">Sale</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>';
// B's own content: other links, so a click must be resolved in the recipient's variant.
const HTML_B = '<p>{{firstName}}, this week only</p><a href="https://shop.example/offer?for={{firstName}}">Offer</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a> <a href="{{mirrorPageUrl}}">View online</a>';
const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);

describe('A/B test on the real stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  it('sends the test, counts the clicks, and gives the rest the variant that won them', async () => {
    await seedProfiles(stack.db, manyProfiles(100));
    const handle = await stack.start(baseSpec({
      html: HTML, text: 'Unsubscribe: {{unsubscribeUrl}}', trackingHours: 1,
      variants: [{ name: 'A', subject: 'Variant A' }, { name: 'B', subject: 'Variant B, {{firstName}}', html: HTML_B }],
      abTest: { percent: 40, winnerBy: 'clicks', decideAfter: '30s', minimumPerVariant: 10 },
    }));
    await eventually(async () => (await handle.query(statusQuery)).abTest?.phase === 'deciding', 60_000, 'the test population sent');
    const test = stack.sink.messages.map((m) => m.mail);
    expect(test).toHaveLength(40);
    const ofB = test.filter((m) => String(m.subject).startsWith('Variant B'));
    expect(ofB).toHaveLength(20);
    for (const mail of ofB) {
      const click = await fetch(hrefs(String(mail.html))[0], { redirect: 'manual' });
      expect(click.headers.get('location')).toBe(`https://shop.example/offer?for=${/^Variant B, (\S+)/.exec(String(mail.subject))![1]}`);
    }
    // The mirror page shows the variant the recipient got.
    expect(await (await fetch(hrefs(String(ofB[0].html))[2])).text()).toContain('this week only');

    await waitForState(handle, 'sent', 90_000);
    const status = await handle.query(statusQuery);
    expect(status.abTest).toMatchObject({ phase: 'decided', winner: 'B', decision: expect.stringMatching(/^significant by clicks/) });
    expect(status.abTest?.tallies).toEqual([
      { name: 'A', delivered: 20, successes: 0, hardBounces: 0, complaints: 0 },
      { name: 'B', delivered: 20, successes: 20, hardBounces: 0, complaints: 0 },
    ]);
    const all = stack.sink.messages;
    expect(all).toHaveLength(100);
    expect(new Set(all.map((m) => m.to)).size).toBe(100); // nobody got two messages
    expect(all.filter((m) => String(m.mail.subject).startsWith('Variant B'))).toHaveLength(80);
    const byVariant = await stack.db.sendingLog.groupBy({ by: ['variant'], where: { deliveryId: handle.workflowId }, _count: { _all: true } });
    expect(Object.fromEntries(byVariant.map((g) => [g.variant, g._count._all]))).toEqual({ A: 20, B: 80 });
    // Per-variant KPIs add up to the delivery's.
    await eventually(async () => (await handle.query(kpisQuery)).variants?.B?.clicks === 20, 30_000, 'the clicks per variant');
    const kpis = await handle.query(kpisQuery);
    expect(kpis.variants).toEqual({
      A: { sent: 20, delivered: 20, opens: 0, clicks: 0, openRate: 0, clickRate: 0 },
      B: { sent: 80, delivered: 80, opens: 0, clicks: 20, openRate: 0, clickRate: 25 },
    });
    expect(kpis.sent).toBe(100);
    expect(kpis.clicks).toBe(20);
  });

  it('a proof sends every variant to each proof address, subject marked with the variant', async () => {
    await seedProfiles(stack.db, manyProfiles(10));
    const handle = await stack.start(baseSpec({
      html: HTML, text: 'Unsubscribe: {{unsubscribeUrl}}', approval: 'manual', proof: { to: ['qa@team.example', 'user1@example.com'] },
      variants: [{ name: 'A', subject: 'Variant A' }, { name: 'B', subject: 'Variant B, {{firstName}}', html: HTML_B }],
      abTest: { percent: 50, winnerBy: 'manual', decideAfter: '1h' },
    }));
    await waitForState(handle, 'prepared');
    await handle.signal('proof');
    await eventually(() => stack.sink.messages.length === 4, 30_000, 'four proofs');
    expect(stack.sink.messages.map((m) => `${m.to} ${String(m.mail.subject)}`).sort()).toEqual([
      'qa@team.example Proof #1 (variant A): Variant A', 'qa@team.example Proof #1 (variant B): Variant B,',
      'user1@example.com Proof #1 (variant A): Variant A', 'user1@example.com Proof #1 (variant B): Variant B, User1',
    ]);
    await handle.cancel();
  });

  it("records a pixel fetched by Apple's privacy proxy as a machine's open, and the reader's own open after it", async () => {
    await seedProfiles(stack.db, manyProfiles(1));
    const handle = await stack.start(baseSpec({ html: HTML, text: 'Unsubscribe: {{unsubscribeUrl}}', trackingHours: 1 }));
    await waitForState(handle, 'sent');
    const pixel = /<img src="([^"]+)"/.exec(String(stack.sink.messages[0].mail.html))![1];
    expect((await fetch(pixel, { headers: { 'User-Agent': 'Mozilla/5.0' } })).status).toBe(200); // the proxy's bare user agent
    expect((await fetch(pixel, { headers: { 'User-Agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)' } })).status).toBe(200);
    await eventually(async () => (await stack.db.trackingEvent.count({ where: { deliveryId: handle.workflowId } })) === 2, 10_000, 'two opens recorded');
    const opens = await stack.db.trackingEvent.findMany({ where: { deliveryId: handle.workflowId }, orderBy: { id: 'asc' }, select: { kind: true, machine: true } });
    expect(opens).toEqual([{ kind: 'open', machine: true }, { kind: 'open', machine: false }]);
  });
});
