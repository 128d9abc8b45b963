// A/B/n tests: the split is even, stable and cannot move anyone; the verdict is Fisher's exact test, checked against
// published tables, with a minimum sample and guards.
import { abVerdict, assignVariants, fisherExact, type VariantTally } from '../../domain/ab-test';
import { decideAfterMs, fallbackWinner } from '../../domain/sending-plan';
import { emptyKpis } from '../../domain/delivery';
import { isProgressReport, kpisWithProgress, type ProgressReport } from '../../domain/lifecycle';
import { variantLines } from '../../domain/kpi-table';
import { isMachineOpen } from '../../domain/machine-opens';
import { parseDeliverySpec } from '../../domain/spec';
import { validateDeliverySpec } from '../../domain/spec-problems';

const GUARDS = { maxHardBounceRate: 0.1, maxComplaintRate: 0.003 };
const tally = (name: string, delivered: number, successes: number, extra: Partial<VariantTally> = {}): VariantTally =>
  ({ name, delivered, successes, hardBounces: 0, complaints: 0, ...extra });

describe("Fisher's exact test (two-sided)", () => {
  it.each([
    // Fisher's lady tasting tea: 3 of 4 cups right each way.
    [[3, 1, 1, 3], 0.4857],
    // Wikipedia, "Fisher's exact test": men 1 studying / 11 not, women 9 / 3.
    [[1, 9, 11, 3], 0.002759],
    // All successes on one side: 2 / C(20, 10).
    [[10, 0, 0, 10], 2 / 184756],
    // Identical rates.
    [[50, 50, 50, 50], 1],
  ])('%j → p = %d', (table, p) => {
    const [a, b, c, d] = table as number[];
    expect(fisherExact(a, b, c, d)).toBeCloseTo(p, 4);
    expect(fisherExact(c, d, a, b)).toBeCloseTo(p, 4); // the order of the rows does not matter
  });

  it('stays exact enough on a million messages (5.0% against 5.3% of 100,000 each: z ≈ 3.04, p ≈ 0.0024)', () => {
    expect(fisherExact(5000, 95_000, 5300, 94_700)).toBeCloseTo(0.0024, 3);
  });
});

describe('variant assignment', () => {
  const candidates = Array.from({ length: 10_000 }, (_, i) => ({ id: i + 1, addressKey: `user${i}@example.com` }));

  it('takes the test percent of the target and splits it evenly (one apart at most)', () => {
    const split = assignVariants(candidates, ['A', 'B', 'C'], 20, 'd-1');
    const sizes = [...split.values()].map((ids) => ids.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(new Set([...split.values()].flat()).size).toBe(2000); // nobody in two variants
  });

  it('gives everyone the same variant on every run, whatever order the rows come in', () => {
    const once = assignVariants(candidates, ['A', 'B'], 40, 'd-1');
    const again = assignVariants([...candidates].reverse(), ['A', 'B'], 40, 'd-1');
    expect(again).toEqual(once);
  });

  it('draws another test population for another delivery', () => {
    const a = new Set(assignVariants(candidates, ['A', 'B'], 10, 'd-1').get('A'));
    const b = assignVariants(candidates, ['A', 'B'], 10, 'd-2').get('A')!;
    expect(b.filter((id) => a.has(id)).length).toBeLessThan(100); // ~5% of 500 by chance
  });
});

describe('the verdict', () => {
  it('waits until every variant reached the minimum sample', () => {
    const v = abVerdict([tally('A', 499, 100), tally('B', 500, 10)], 500, GUARDS);
    expect(v).toMatchObject({ kind: 'too early', short: ['A'] });
  });

  it('names a significant winner, with its p-value', () => {
    const v = abVerdict([tally('A', 1000, 30), tally('B', 1000, 60)], 500, GUARDS);
    expect(v).toMatchObject({ kind: 'winner', name: 'B' });
    expect(v.kind === 'winner' && v.pValue).toBeLessThan(0.05);
  });

  it('finds no winner in a difference chance explains (and says which was ahead)', () => {
    const v = abVerdict([tally('A', 1000, 30), tally('B', 1000, 38)], 500, GUARDS);
    expect(v).toMatchObject({ kind: 'no winner', best: 'B' });
  });

  it('splits the significance level between the comparisons: with four variants p < 0.0167 is needed', () => {
    // B against A alone: p ≈ 0.026 (significant with two variants, not against three others).
    const two = abVerdict([tally('A', 1000, 40), tally('B', 1000, 63)], 100, GUARDS);
    const four = abVerdict([tally('A', 1000, 40), tally('B', 1000, 63), tally('C', 1000, 40), tally('D', 1000, 40)], 100, GUARDS);
    expect(two.kind).toBe('winner');
    expect(four).toMatchObject({ kind: 'no winner', best: 'B' });
  });

  it('never lets a variant above its bounce or complaint guard win', () => {
    const v = abVerdict([tally('A', 1000, 30), tally('B', 1000, 90, { complaints: 5 })], 500, GUARDS);
    expect(v).toMatchObject({ kind: 'no winner', barred: ['B'] });
    expect(v.kind === 'no winner' && fallbackWinner(v, ['A', 'B'], { ifNoWinner: 'best', minimumPerVariant: 500 })?.name).toBe('A');
  });

  it('falls back as the spec says when nobody won, and says why', () => {
    const v = abVerdict([tally('A', 1000, 30), tally('B', 1000, 38)], 500, GUARDS);
    if (v.kind !== 'no winner') throw new Error(v.kind);
    const rule = (ifNoWinner: 'best' | 'first' | 'wait') => fallbackWinner(v, ['A', 'B'], { ifNoWinner, minimumPerVariant: 500 });
    expect(rule('best')).toEqual({ name: 'B', decision: 'no significant difference: the best rate (ifNoWinner "best")' });
    expect(rule('first')?.name).toBe('A');
    expect(rule('wait')).toBeUndefined();
    const early = abVerdict([tally('A', 100, 3), tally('B', 100, 9)], 500, GUARDS);
    if (early.kind !== 'too early') throw new Error(early.kind);
    expect(fallbackWinner(early, ['A', 'B'], { ifNoWinner: 'best', minimumPerVariant: 500 }))
      .toEqual({ name: 'B', decision: 'fewer than 500 delivered for A, B: the best rate (ifNoWinner "best")' });
  });
});

describe('variants and abTest in the spec', () => {
  const valid = { name: 'Spring sale', from: 'Shop <news@shop.example>', subject: 'Hi {{firstName}}', html: '<p>Hi</p>', audience: { all: true } };
  const ab = { variants: [{ name: 'A', subject: 'Spring sale' }, { name: 'B', subject: 'Our spring sale, {{firstName}}' }], abTest: { percent: 20, winnerBy: 'clicks', decideAfter: '4h' } };
  const problems = (input: unknown) => {
    const v = validateDeliverySpec(input, new Date());
    return v.ok ? [] : v.problems;
  };

  it('takes 2 to 8 variants and a test, with defaults, and keeps the spec as written (it is stored and parsed again)', () => {
    const v = validateDeliverySpec({ ...valid, ...ab }, new Date());
    expect(v.ok && v.spec.abTest).toEqual({ percent: 20, winnerBy: 'clicks', decideAfter: '4h', minimumPerVariant: 500, ifNoWinner: 'best' });
    expect(v.ok && decideAfterMs(v.spec.abTest!)).toBe(4 * 3600_000);
    expect(v.ok && parseDeliverySpec(v.spec)).toEqual(v);
  });

  it('names what is wrong with the variants and the test, and how to fix it', () => {
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0]] })).toEqual(['variants: needs at least 2 variants to compare']);
    expect(problems({ ...valid, ...ab, variants: [...ab.variants, { name: 'a', subject: 'x' }] })).toEqual(['variants: has two variants of the same name: give each its own']);
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B' }] })).toEqual(['variants.1: changes nothing: give it a subject, html, text or from of its own']);
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B', subject: 'a\r\nBcc: x@y.example' }] })[0]).toMatch(/^variants.1.subject: must be one line/);
    expect(problems({ ...valid, ...ab, abTest: { ...ab.abTest, decideAfter: '4 hours' } })[0]).toMatch(/^abTest.decideAfter: must be a duration such as "30s"/);
    expect(problems({ ...valid, ...ab, abTest: { ...ab.abTest, winnerBy: 'revenue' } })[0]).toMatch(/^abTest.winnerBy: must be one of "clicks", "opens", "manual"/);
    expect(problems({ ...valid, ...ab, abTest: { ...ab.abTest, percent: 0 } })).toEqual(['abTest.percent: must be above 0']);
    expect(problems({ ...valid, variants: ab.variants })).toEqual(['abTest: is required with variants: { "percent": 20, "winnerBy": "clicks", "decideAfter": "4h" }']);
    expect(problems({ ...valid, abTest: ab.abTest })[0]).toMatch(/^variants: are required with abTest/);
  });

  it("checks each variant as the whole message it would be: its templates, its links, its sender", () => {
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B', subject: 'Hi {{fristName}}' }] })[0])
      .toMatch(/^variants.1 \("B"\)\.subject template: unknown field \{\{fristName\}\}/);
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B', html: '<a href="https://{{firstName}}.example">x</a>' }] })[0])
      .toMatch(/^variants.1 \("B"\)\.html: link 1 "https:\/\/\{\{firstName\}\}.example" takes its scheme or host from a field/);
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B', from: 'Shop <nobody>' }] }))
      .toEqual(['variants.1 ("B").from: is not a valid sender: use "name@domain" or "Name <name@domain>"']);
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B', from: 'Shop <offers@other.example>' }] }))
      .toEqual(['variants.1 ("B").from: must be an address at the delivery\'s sender domain shop.example (its signing, warm-up and complaints are that domain\'s)']);
    expect(problems({ ...valid, ...ab, variants: [ab.variants[0], { name: 'B', from: 'Anna from Shop <Anna@Shop.example>' }] })).toEqual([]);
  });
});

describe('per-variant KPIs', () => {
  const sending = (variants: unknown) => ({ phase: 'sending', sent: 30, delivered: 30, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, variants });
  const tracking = (variants: unknown) => ({ phase: 'tracking', opens: 5, totalOpens: 5, clicks: 3, totalClicks: 3, unsubscriptions: 0, mirrorPageViews: 0, clicksByLink: {}, variants });

  it('takes the sending and the tracking counts of each variant from their own reports, with the rates', () => {
    let k = { ...emptyKpis(), toDeliver: 100 };
    k = kpisWithProgress(k, sending({ A: { sent: 10, delivered: 10 }, B: { sent: 20, delivered: 20 } }) as ProgressReport, 'sending');
    k = kpisWithProgress(k, tracking({ A: { opens: 1, clicks: 0 }, B: { opens: 4, clicks: 3 } }) as ProgressReport, 'sending');
    k = kpisWithProgress(k, sending({ A: { sent: 10, delivered: 9 }, B: { sent: 20, delivered: 20 } }) as ProgressReport, 'sending');
    expect(k.variants).toEqual({
      A: { sent: 10, delivered: 9, opens: 1, clicks: 0, openRate: 11.1, clickRate: 0 },
      B: { sent: 20, delivered: 20, opens: 4, clicks: 3, openRate: 20, clickRate: 15 },
    });
    expect(variantLines(k)).toEqual([
      'variant A: sent 10 · delivered 9 · opens 1 (11.1%) · clicks 0 (0.0%)',
      'variant B: sent 20 · delivered 20 · opens 4 (20.0%) · clicks 3 (15.0%)',
    ]);
  });

  it('refuses a progress report whose variant counts are not whole counts, or too many', () => {
    expect(isProgressReport(sending({ A: { sent: 1, delivered: 1 } }))).toBe(true);
    expect(isProgressReport(sending({ A: { sent: -1, delivered: 1 } }))).toBe(false);
    expect(isProgressReport(sending({ A: { sent: 1 } }))).toBe(false);
    expect(isProgressReport(sending([1, 2]))).toBe(false);
    expect(isProgressReport(tracking({ A: { opens: 1, clicks: 'x' } }))).toBe(false);
    expect(isProgressReport(sending(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`v${i}`, { sent: 1, delivered: 1 }]))))).toBe(false);
  });
});

describe('machine opens', () => {
  it.each([
    ['Mozilla/5.0', '203.0.113.9', true], // Apple Mail Privacy Protection's bare user agent
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', '17.58.101.4', true], // from Apple's 17/8
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', '::ffff:17.1.2.3', true],
    ['Mimecast-Scanner/1.0', '198.51.100.7', true],
    ['python-requests/2.31', '198.51.100.7', true],
    [undefined, '198.51.100.7', true],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', '198.51.100.7', false],
    ['Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)', '66.249.84.1', false], // Gmail fetches when the reader opens
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)', '171.5.5.5', false], // 171.x is not Apple's 17.x
  ])('%s from %s: machine %s', (ua, address, machine) => {
    expect(isMachineOpen(ua, address)).toBe(machine);
  });
});
