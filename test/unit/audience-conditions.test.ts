import { parseCondition, parseMoment, periodMs, references, type Condition } from '../../domain/audience';
import { parseDeliverySpec } from '../../domain/spec';
import { attributeValue, parseProfileCsv } from '../../domain/profile-csv';

const problems = (where: unknown) => {
  const r = parseCondition(where, 'audience.where');
  return r.ok ? [] : r.problems;
};
const ok = (where: unknown): Condition => {
  const r = parseCondition(where);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.condition;
};

describe('audience conditions', () => {
  it('keeps the original form: a value or a list of values per field, fields ANDed', () => {
    expect(ok({ country: ['GB', 'FR'], language: 'en' })).toEqual({ kind: 'and', items: [
      { kind: 'oneOf', field: { kind: 'text', column: 'country' }, operands: [{ type: 'text', value: 'GB' }, { type: 'text', value: 'FR' }] },
      { kind: 'compare', field: { kind: 'text', column: 'language' }, op: 'eq', operand: { type: 'text', value: 'en' } },
    ] });
  });

  it('takes an "in" list of any length as one condition, and refuses what no database could evaluate, naming the limit', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => `user${i}@example.com`);
    expect(ok({ email: { nin: many } })).toMatchObject({ kind: 'not', item: { kind: 'oneOf', operands: { length: 100_000 } } });
    expect(problems({ email: { in: [...many, 'one-more@example.com'] } })).toEqual([
      'audience.where.email.in: holds 100001 values, more than 100000: import them as a list ("delivery profiles import … --list") and target it']);
    let deep: Record<string, unknown> = { country: 'FR' };
    for (let i = 0; i < 20_000; i++) deep = { not: deep };
    expect(problems(deep)).toEqual([`audience.where${'.not'.repeat(21)}: nested more than 20 levels deep (and / or / not): flatten the condition`]);
    const wide = { or: Array.from({ length: 600 }, (_, i) => ({ 'attributes.n': i })) };
    expect(problems(wide)).toEqual(['audience.where: holds 601 conditions, more than 500: put long lists of values in one "in" list']);
    const huge = { or: Array.from({ length: 50_000 }, (_, i) => ({ 'attributes.n': i })) };
    expect(problems(huge)).toEqual(['audience.where: holds more than 500 conditions: put long lists of values in one "in" list']);
  });

  it('types attribute operands: numbers compare as numbers, dates as dates, between is inclusive', () => {
    expect(ok({ 'attributes.score': { gte: 10 } })).toMatchObject({ op: 'gte', operand: { type: 'number', value: 10 } });
    expect(ok({ 'attributes.birthday': { lt: '2000-01-31' } })).toMatchObject({ operand: { type: 'date', value: { iso: '2000-01-31T00:00:00.000Z' } } });
    expect(ok({ 'attributes.seen': { gt: '-30d' } })).toMatchObject({ operand: { type: 'date', value: { offsetMs: -30 * 86_400_000 } } });
    expect(ok({ 'attributes.score': { between: [1, 5] } })).toMatchObject({ kind: 'and', items: [{ op: 'gte' }, { op: 'lte' }] });
    expect(ok({ 'attributes.plan': { ne: 'pro' } })).toMatchObject({ kind: 'not', item: { op: 'eq' } });
    expect(ok({ 'attributes.plan': { exists: false } })).toMatchObject({ kind: 'not', item: { kind: 'exists' } });
  });

  it('names the path and the fix of every problem', () => {
    expect(problems({ and: [{ country: 'FR' }, { 'attributes.score': { gte: 'ten' } }] }))
      .toEqual(['audience.where.and[1].attributes.score.gte: expects a number, or a date (2026-01-31, "-30d"), got "ten"']);
    expect(problems({ cuntry: 'FR' })[0]).toMatch(/^audience.where.cuntry: unknown field "cuntry"; use email, firstName/);
    expect(problems({ country: { like: 'F%' } })[0]).toMatch(/^audience.where.country.like: unknown operator "like"; use eq, ne, in/);
    expect(problems({ country: { gt: 'A' } })[0]).toMatch(/^audience.where.country.gt: country is text: gt, gte, lt, lte and between compare numbers and dates/);
    expect(problems({ createdAt: { gte: '2026-02-30' } })[0]).toMatch(/^audience.where.createdAt.gte: expects a date/);
    expect(problems({ opened: { within: '30 days' } })).toEqual(['audience.where.opened.within: expects a period such as "30d", "12h" or "2w", got "30 days"']);
    expect(problems({ or: [] })).toEqual(['audience.where.or: expects a non-empty list of conditions, got []']);
    expect(problems({ not: {} })).toEqual(['audience.where.not: is empty: give at least one field, or { "and" | "or" | "not": … }']);
    expect(problems({ 'attributes.score': { between: [1, '2026-01-01'] } })[0]).toMatch(/between: expects two numbers or two dates/);
    expect(problems({ segment: '' })[0]).toMatch(/^audience.where.segment: expects the name of a segment/);
    expect(problems({ optOut: { gt: true } })).toEqual(['audience.where.optOut.gt: optOut is true or false: use eq or ne']);
  });

  it('lists the segments and lists it refers to, with where', () => {
    expect(references(ok({ or: [{ segment: 'a' }, { not: { list: 'news' } }] }))).toEqual([
      { kind: 'segment', name: 'a', path: 'where.or[0].segment' }, { kind: 'list', name: 'news', path: 'where.or[1].not.list' },
    ]);
  });

  it('reads periods and moments', () => {
    expect([periodMs('12h'), periodMs('2w'), periodMs('30'), periodMs('-1d')]).toEqual([12 * 3_600_000, 14 * 86_400_000, undefined, undefined]);
    expect(parseMoment('2026-01-31T10:00:00+02:00')).toEqual({ iso: '2026-01-31T08:00:00.000Z' });
    expect([parseMoment('yesterday'), parseMoment('2026-13-01')]).toEqual([undefined, undefined]);
  });

  it('is checked with the spec, which reports the same path', () => {
    const spec = { name: 'n', from: 'a@shop.example', subject: 's', html: '<p>x</p>', audience: { where: { list: 'bad name' } } };
    const r = parseDeliverySpec(spec);
    expect(r.ok ? [] : r.problems).toEqual([expect.stringMatching(/^audience.where.list: expects the name of a list/)]);
    expect(parseDeliverySpec({ ...spec, audience: { where: { list: 'news' } }, unsubscribeFrom: { list: 'news' } }).ok).toBe(true);
    const bad = parseDeliverySpec({ ...spec, audience: { all: true }, unsubscribeFrom: 'list' });
    expect(bad.ok ? [] : bad.problems).toEqual(['unsubscribeFrom: must be "everything" (opt out of every delivery) or { "list": "<list name>" } (leave that list only)']);
  });
});

describe('typed attribute values in profile files', () => {
  it('stores plain numbers as numbers and ISO dates as dates; zip codes, phone numbers and the rest stay text', () => {
    expect(['10', '-2.5', '0', '007', '+33612345678', '1e3', '1,5'].map((v) => attributeValue(v))).toEqual([10, -2.5, 0, '007', '+33612345678', '1e3', '1,5']);
    expect(attributeValue('2026-01-31')).toBe('2026-01-31');
    expect(attributeValue('2026-01-31T10:00:00+02:00')).toBe('2026-01-31T08:00:00.000Z');
    expect(attributeValue('2026-02-30')).toBe('2026-02-30'); // not a day: text
  });

  it('follows a type declared in the header, refusing what does not fit', () => {
    expect(attributeValue('0042', 'number')).toBe(42);
    expect(attributeValue('12', 'text')).toBe('12');
    expect(attributeValue('soon', 'date')).toEqual({ problem: expect.stringMatching(/^"soon" is not a date/) });
    const r = parseProfileCsv(Buffer.from('email,score:number,zip:text,since\na@example.com,7,01234,2026-01-31\nb@example.com,seven,1,\n'));
    expect(r.ok && r.profiles).toEqual([expect.objectContaining({ attributes: { score: 7, zip: '01234', since: '2026-01-31' } })]);
    expect(r.ok && r.rejected).toEqual([{ row: 3, reason: expect.stringMatching(/^score: "seven" is not a number/) }]);
    expect(parseProfileCsv(Buffer.from('email,country:text\n'))).toEqual({ ok: false, error: expect.stringMatching(/is a profile field: only attribute columns take a type/) });
  });
});
