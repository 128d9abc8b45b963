import { parseDeliverySpec, parseSender } from '../../domain/spec';
import { validateDeliverySpec } from '../../domain/spec-problems';

const valid = {
  name: 'Spring sale', from: 'Shop <news@shop.example>', subject: 'Hi {{firstName}}', html: '<p>Hi</p>', audience: { all: true },
};

function errorsOf(input: unknown): string[] {
  const r = parseDeliverySpec(input);
  return r.ok ? [] : r.problems;
}

describe('delivery spec validation', () => {
  it('accepts a minimal spec and defaults approval to auto', () => {
    const r = parseDeliverySpec(valid);
    expect(r.ok && r.spec.approval).toBe('auto');
  });

  it('names a missing sender and how to fix it', () => {
    expect(errorsOf({ ...valid, from: undefined })).toEqual(['from: is required']);
    expect(errorsOf({ ...valid, from: '' })).toEqual(['from: is required: set the sender, e.g. "Shop <news@shop.example>"']);
  });

  it('refuses an invalid sender address', () => {
    expect(errorsOf({ ...valid, from: 'Shop <not an address>' })[0]).toMatch(/^from: is not a valid sender/);
  });

  it('refuses line breaks that would inject headers in sender, subject and name', () => {
    expect(errorsOf({ ...valid, subject: 'Hi\r\nBcc: victim@example.com' })[0]).toMatch(/^subject: must be one line/);
    expect(errorsOf({ ...valid, from: 'Shop <a@b.example>\nBcc: x@y.example' })).toContainEqual(expect.stringMatching(/^from: must be one line/));
  });

  it('refuses NUL, ESC and other control characters in header fields', () => {
    expect(errorsOf({ ...valid, subject: 'Hi\u0000there' })[0]).toMatch(/^subject: must be one line of text without control characters/);
    expect(errorsOf({ ...valid, from: 'Shop\u001b[31m <a@b.example>' })).toContainEqual(expect.stringMatching(/^from: must be one line of text without control characters/));
    expect(errorsOf({ ...valid, name: 'News\u0007' })[0]).toMatch(/^name: must be one line/);
  });

  it('refuses a tracked link whose host comes from a field, naming the link', () => {
    const verdict = validateDeliverySpec({ ...valid, html: '<a href="https://shop.example/{{attributes.page}}">ok</a><a href="https://{{attributes.shop}}.shop.example/offers">x</a><a href="{{attributes.site}}">y</a>' }, new Date());
    expect(verdict.ok).toBe(false);
    const problems = verdict.ok ? [] : verdict.problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^html: link 2 "https:\/\/\{\{attributes.shop\}\}.shop.example\/offers" takes its scheme or host from a field/);
    expect(problems[1]).toMatch(/^html: link 3 "\{\{attributes.site\}\}"/);
  });

  it('names an unknown audience field and lists the known ones', () => {
    expect(errorsOf({ ...valid, audience: { where: { town: 'Paris' } } })).toEqual([
      'audience.where.town: unknown field "town"; use email, firstName, lastName, language, country, optOut, createdAt, updatedAt, attributes.<name>, and/or/not, segment, list or received/opened/clicked/bounced/unsubscribed',
    ]);
  });

  it('refuses a malformed audience', () => {
    expect(errorsOf({ ...valid, audience: { all: false } })[0]).toMatch(/^audience: must be \{ "all": true \}/);
    expect(errorsOf({ ...valid, audience: { where: {} } })[0]).toMatch(/^audience.where: needs at least one condition/);
  });

  it('names unknown top-level fields', () => {
    expect(errorsOf({ ...valid, sendr: 'x' })[0]).toMatch(/^spec: unknown field\(s\) "sendr"; remove them/);
  });

  it('checks approval, contact date and rate cap', () => {
    expect(errorsOf({ ...valid, approval: 'later' })[0]).toMatch(/^approval: must be "auto" .* or "manual"/);
    expect(errorsOf({ ...valid, scheduleAt: 'tomorrow' })[0]).toMatch(/^scheduleAt: must be an ISO date/);
    expect(errorsOf({ ...valid, messagesPerSecond: 0 })).toEqual(['messagesPerSecond: must be above 0']);
  });

  it('guards against bouncing lists by default, and names what is wrong with a guard', () => {
    const r = parseDeliverySpec(valid);
    expect(r.ok && r.spec.guard).toEqual({ maxHardFailureRate: 0.1, window: 1000 });
    const off = parseDeliverySpec({ ...valid, guard: false });
    expect(off.ok && off.spec.guard).toBe(false);
    expect(errorsOf({ ...valid, guard: { window: 5 } })).toEqual(['guard.window: must be at least 10 messages']);
    expect(errorsOf({ ...valid, guard: { maxHardFailureRate: 10 } })[0]).toMatch(/^guard.maxHardFailureRate: must be at most 1 \(a share: 0.1 is 10%\); use "guard": false/);
    expect(errorsOf({ ...valid, guard: true })).toEqual(['guard: must be false (no guard) or { "maxHardFailureRate": 0.1, "window": 1000 }']);
    expect(errorsOf({ ...valid, guard: { max: 1 } })).toEqual(['guard: unknown field(s) "max"; remove them']);
  });

  it('refuses something that is not an object', () => {
    expect(errorsOf('hello')).toHaveLength(1);
    expect(errorsOf(null)).toHaveLength(1);
  });

  it('splits a sender into name and address', () => {
    expect(parseSender('"Shop" <news@shop.example>')).toEqual({ name: 'Shop', address: 'news@shop.example' });
    expect(parseSender('news@shop.example')).toEqual({ name: '', address: 'news@shop.example' });
  });
});
