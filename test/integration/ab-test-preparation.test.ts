// The preparation of an A/B test on the real database (the activity itself, in Temporal's activity environment):
// every variant is rendered and checked as a whole message, the test population is drawn once and split evenly,
// and a preparation done again draws the same. Then what the test counts of each variant, readers' opens only.
import { abTallies } from '../../store/ab-tallies';
import { trackingEvents } from '../../store/tracking-events';
import { sendingLogs } from '../../store/sending-logs';
import { prepareOn } from '../helpers/preparation';
import { baseSpec, manyProfiles, seedProfiles, withFreshDatabase } from '../helpers/stack';

const AB = {
  variants: [
    { name: 'A', subject: 'Spring sale' },
    { name: 'B', subject: 'Our spring sale, {{firstName}}', html: '<p>Hi {{firstName}}</p><a href="{{unsubscribeUrl}}">unsubscribe</a>' },
  ],
  abTest: { percent: 40, winnerBy: 'clicks', decideAfter: '30s' },
};

describe('A/B test: the preparation', () => {
  const fresh = withFreshDatabase((db) => seedProfiles(db, manyProfiles(100)));

  const prepare = (deliveryId: string, spec: Record<string, unknown>) => prepareOn(fresh.db, deliveryId, spec);
  const variantOf = async (deliveryId: string) => new Map((await fresh.db.sendingLog.findMany({ where: { deliveryId }, select: { email: true, variant: true } })).map((r) => [r.email, r.variant]));

  it('draws 40% of the target, half to each variant, and leaves the rest for the winner', async () => {
    const result = await prepare('ab-1', baseSpec(AB));
    expect(result).toMatchObject({ toDeliver: 100, variants: { A: 20, B: 20 } });
    const variants = [...(await variantOf('ab-1')).values()];
    expect(variants.filter((v) => v === 'A')).toHaveLength(20);
    expect(variants.filter((v) => v === 'B')).toHaveLength(20);
    expect(variants.filter((v) => v === null)).toHaveLength(60);
  });

  it('draws the same people again when the preparation is done again, and others for another delivery', async () => {
    const before = await variantOf('ab-1');
    await fresh.db.sendingLog.updateMany({ where: { deliveryId: 'ab-1' }, data: { variant: null } });
    await prepare('ab-1', baseSpec(AB)); // the same run resumes: every page is there, the draw is done again
    expect(await variantOf('ab-1')).toEqual(before);
    const other = await variantOf((await prepare('ab-2', baseSpec(AB)), 'ab-2'));
    const same = [...other].filter(([email, v]) => v !== null && before.get(email) === v).length;
    expect(same).toBeLessThan(30); // ~10 of 40 by chance
  });

  it("checks each variant's messages and names the variant in what it finds", async () => {
    // A keeps the delivery's html, without an unsubscribe link; B has one.
    const result = await prepare('ab-3', baseSpec({ ...AB, html: '<p>Hi {{firstName}}</p>', text: 'Hi {{firstName}}: {{unsubscribeUrl}}' }));
    expect(result.warnings.filter((w) => /unsubscribe link/.test(w))).toEqual([
      'control rule "unsubscribe link": variant "A": no unsubscribe link in the HTML part: add a link to {{unsubscribeUrl}} (one-click unsubscribe) or whose URL contains "unsubscribe"',
    ]);
  });

  it('fails for good on a variant whose template is invalid, naming it', async () => {
    const broken = { ...AB, variants: [AB.variants[0], { name: 'B', html: '<p>{{#each firstName}}{{/each}}{{> missing}}</p>' }] };
    await expect(prepare('ab-4', baseSpec(broken))).rejects.toThrow(/variant "B"/);
  });

  it("counts each variant's readers: opens by machines (flagged, or within 10 s of the sending) are left out", async () => {
    // ab-1: A and B have 20 test messages each; four of each are sent, then opened.
    const rows = await fresh.db.sendingLog.findMany({ where: { deliveryId: 'ab-1', variant: { not: null } }, orderBy: { id: 'asc' } });
    const sentAt = new Date(Date.now() - 3600_000);
    const opened = (v: string) => rows.filter((r) => r.variant === v).slice(0, 4);
    await fresh.db.sendingLog.updateMany({ where: { id: { in: [...opened('A'), ...opened('B')].map((r) => r.id) } }, data: { status: 'sent', sentAt } });
    const after = (seconds: number) => new Date(sentAt.getTime() + seconds * 1000);
    const event = (r: { id: number }, at: Date, machine?: boolean) => ({ deliveryId: 'ab-1', sendingLogId: r.id, kind: 'open' as const, linkId: 0, at, ...(machine ? { machine } : {}) });
    const [a, b] = [opened('A'), opened('B')];
    await trackingEvents(fresh.db).record([
      event(a[0], after(2)), // Apple's proxy or a gateway at delivery: too soon for a reader
      event(a[1], after(600), true), // a scanner, flagged by the tracking server
      event(a[2], after(900)), event(b[0], after(60)), event(b[1], after(60)), event(b[2], after(3600)),
      event(b[3], after(1), true), event(b[3], after(7200)), // a prefetch, then the reader
      { ...event(a[3], after(300)), kind: 'click' as const, linkId: 1 },
    ]);
    const tallies = await abTallies(fresh.db).of('ab-1', ['A', 'B'], 'open');
    expect(tallies.map((t) => [t.name, t.delivered, t.successes])).toEqual([['A', 4, 1], ['B', 4, 4]]);
    expect((await abTallies(fresh.db).of('ab-1', ['A', 'B'], 'click')).map((t) => t.successes)).toEqual([1, 0]);
    // The KPIs count every distinct opener, machines included (as the delivery's own Opens).
    expect(await abTallies(fresh.db).trackingByVariant('ab-1')).toEqual({ A: { opens: 3, clicks: 1 }, B: { opens: 4, clicks: 0 } });
  });

  it("claims only the test population while the rest waits for the winner, then the rest once it has it", async () => {
    const logs = sendingLogs(fresh.db);
    const test = await logs.claim('ab-2', 'r1/0/1/test', 1000, { testOnly: true });
    expect(test).toHaveLength(40);
    expect(new Set(test.map((r) => r.variant))).toEqual(new Set(['A', 'B']));
    expect(await logs.claim('ab-2', 'r1/0/1/test', 1000, { testOnly: true })).toEqual([]);
    expect(await abTallies(fresh.db).giveRestTheWinner('ab-2', 'B')).toBe(60);
    expect(await abTallies(fresh.db).giveRestTheWinner('ab-2', 'A')).toBe(0); // nobody gets a second variant
    const rest = await logs.claim('ab-2', 'r1/0/1/rest', 1000);
    expect(rest.map((r) => r.variant)).toEqual(Array(60).fill('B'));
  });
});
