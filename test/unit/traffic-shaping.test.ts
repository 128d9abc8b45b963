// The pure parts of traffic shaping and the sending plan: providers by MX, shaping rules, AIMD steps, sending windows
// (DST, overnight windows, several windows), warm-up allowances, and the CLI's refusals of bad rules and plans.
import { providerOf } from '../../domain/providers';
import { BUILT_IN_RULES, effectiveRules, matchRule, raisedRate, slowedRate } from '../../domain/shaping-rules';
import { dayOf, windowState, windowProblems } from '../../domain/sending-windows';
import { allowanceOn, nextUtcDay, warmupSchedule, type WarmupPlan } from '../../domain/warmup';
import { parseDeliverySpec } from '../../domain/spec';
import { ruleOf } from '../../client/shaping-cli';
import { warmupPlanOf } from '../../client/warmup-cli';

const spec = (extra: Record<string, unknown>) => parseDeliverySpec({ name: 'n', from: 'a@shop.example', subject: 's', html: '<p>x</p>', audience: { all: true }, ...extra });

describe('mailbox providers (domain/providers.ts)', () => {
  it('groups domains by their MX hosts, falls back on the well-known domains, and leaves the rest alone', () => {
    expect(providerOf('corp.example', ['ASPMX.L.GOOGLE.COM.', 'alt1.aspmx.l.google.com'])).toMatchObject({ provider: 'google', source: 'mx' });
    expect(providerOf('club.example', ['club-example.mail.protection.outlook.com'])).toMatchObject({ provider: 'microsoft', source: 'mx' });
    expect(providerOf('yahoo.fr', ['mx-eu.mail.am0.yahoodns.net'])).toMatchObject({ provider: 'yahoo', source: 'mx' });
    expect(providerOf('googlemail.com', undefined)).toMatchObject({ provider: 'google', source: 'known' }); // DNS did not answer
    expect(providerOf('small.example', ['mx.small.example'])).toMatchObject({ provider: 'small.example', source: 'none' });
    // A look-alike host is not Google.
    expect(providerOf('evil.example', ['google.com.evil.example']).provider).toBe('evil.example');
  });
});

describe('traffic shaping rules (domain/shaping-rules.ts)', () => {
  const match = (code: number, text: string, provider = 'google') => matchRule(BUILT_IN_RULES, provider, code, text)?.name;

  it('recognises the providers\' published throttling replies, and only temporary ones', () => {
    expect(match(421, '4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP address')).toBe('google-rate');
    expect(match(421, '4.7.32 Your email has been rate limited because the From: header (RFC5322) in this message isn\'t aligned')).toBe('google-unaligned-rate');
    expect(match(421, '4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints', 'yahoo')).toBe('yahoo-tss04');
    expect(match(451, '4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. (S3150)', 'microsoft')).toBe('microsoft-s3150');
    expect(match(550, '5.7.28 unusual rate of unsolicited mail')).toBeUndefined(); // a refusal, not a request to wait
    expect(match(450, '4.2.1 The user you are trying to contact is receiving mail too quickly')).toBeUndefined(); // the recipient's
    expect(BUILT_IN_RULES.find((r) => r.name === 'yahoo-tss04')?.action).toEqual({ kind: 'suspend', forMs: 7_200_000 });
  });

  it('tries ops\' rules first, scoped to a provider when they say so; a built-in rule turned off no longer matches', () => {
    const ops = [{ name: 'gmx-too-many', text: 'too many mails', provider: 'gmx', action: { kind: 'suspend' as const, forMs: 600_000 } }];
    const rules = effectiveRules(ops, new Set(['google-rate']));
    expect(matchRule(rules, 'gmx', 421, '4.7.0 Too many mails from your IP')?.name).toBe('gmx-too-many');
    expect(matchRule(rules, 'google', 421, '4.7.0 Too many mails from your IP')).toBeUndefined();
    expect(matchRule(rules, 'google', 421, '4.7.28 unusual rate')).toBeUndefined();
  });

  it('halves on a slow-down, never below the floor, and climbs back by tenths of the rate before the halving', () => {
    expect(slowedRate(40)).toBe(20);
    expect(slowedRate(0.3)).toBe(0.2);
    expect(raisedRate(20, 40, 40)).toBe(24);
    expect(raisedRate(39, 40, 40)).toBe(40); // never above the cap
    expect(raisedRate(1, 1, 5)).toBeCloseTo(1.2);
  });

  it('refuses bad rules from the CLI with the option and the fix', () => {
    expect(() => ruleOf('Bad Name', { action: 'slow', text: 'x' })).toThrow(/lower-case letters, digits and dashes/);
    expect(() => ruleOf('r', { action: 'slow' })).toThrow(/at least one of --code, --enhanced and --text/);
    expect(() => ruleOf('r', { action: 'slow', code: '550' })).toThrow(/--code must be a temporary reply code/);
    expect(() => ruleOf('r', { action: 'slow', text: '(' })).toThrow(/--text must be a regular expression/);
    expect(() => ruleOf('r', { action: 'suspend', text: 'x' })).toThrow(/--for must be a duration/);
    expect(() => ruleOf('r', { action: 'slow', text: 'x', for: '2h' })).toThrow(/--for goes with --action suspend only/);
    expect(ruleOf('r', { action: 'suspend', for: '90m', enhanced: '4.7.0', provider: 'gmx' })).toEqual({ name: 'r', enhanced: '4.7.0', provider: 'gmx', action: { kind: 'suspend', forMs: 5_400_000 } });
  });
});

describe('sending windows and the daily cap (domain/sending-windows.ts)', () => {
  type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
  const paris = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as Day[], from: '08:00', to: '20:00', timeZone: 'Europe/Paris' }];

  it('opens at 08:00 local time on weekdays, DST included, and closes at 20:00', () => {
    // Saturday 27 March 2027, the day before summer time: Monday 08:00 Paris is 06:00 UTC.
    expect(windowState(paris, new Date('2027-03-27T12:00:00Z'))).toEqual({ open: false, opensAt: '2027-03-29T06:00:00.000Z' });
    // In winter it is 07:00 UTC.
    expect(windowState(paris, new Date('2026-12-05T12:00:00Z'))).toEqual({ open: false, opensAt: '2026-12-07T07:00:00.000Z' });
    expect(windowState(paris, new Date('2026-12-07T10:00:00Z'))).toEqual({ open: true, closesAt: '2026-12-07T19:00:00.000Z' });
    expect(windowState(paris, new Date('2026-12-07T19:00:00Z'))).toEqual({ open: false, opensAt: '2026-12-08T07:00:00.000Z' });
  });

  it('handles windows that end the next day and windows that follow one another', () => {
    const night = [{ days: ['sat'] as Day[], from: '22:00', to: '02:00', timeZone: 'UTC' }];
    expect(windowState(night, new Date('2026-12-06T01:00:00Z'))).toEqual({ open: true, closesAt: '2026-12-06T02:00:00.000Z' }); // Saturday's window, on Sunday
    const split = [{ days: ['mon'] as Day[], from: '08:00', to: '12:00', timeZone: 'UTC' }, { days: ['mon'] as Day[], from: '12:00', to: '18:00', timeZone: 'UTC' }];
    expect(windowState(split, new Date('2026-12-07T09:00:00Z'))).toEqual({ open: true, closesAt: '2026-12-07T18:00:00.000Z' });
  });

  it('validates windows in the spec: shape in the schema, the zone against tz data', () => {
    const ok = spec({ windows: { days: ['mon'], from: '08:00', to: '20:00', timeZone: 'Europe/Paris' }, maxPerDay: 1000 });
    expect(ok.ok && ok.spec.windows).toHaveLength(1);
    const bad = spec({ windows: { days: ['monday'], from: '8h', to: '20:00', timeZone: 'Paris time' } });
    expect(bad.ok ? [] : bad.problems.join('\n')).toMatch(/windows\.0\.days\.0: must be one of mon.*\n.*windows\.0\.from: must be a time of day/);
    expect(windowProblems([{ days: ['mon'] as Day[], from: '08:00', to: '20:00', timeZone: 'Europe/Atlantis' }])).toEqual(['windows[0].timeZone: "Europe/Atlantis" is not a known IANA time zone (such as "Europe/Paris")']);
    expect(dayOf(new Date('2026-12-05T23:30:00Z'), 'Europe/Paris')).toEqual({ start: '2026-12-05T23:00:00.000Z', next: '2026-12-06T23:00:00.000Z' });
  });
});

describe('warm-up (domain/warmup.ts)', () => {
  const plan: WarmupPlan = { senderDomain: 'shop.example', fromPerDay: 500, growth: 1.5, untilPerDay: 2000, startedOn: '2026-12-05' };

  it('grows the daily allowance per provider from the first day, up to its end', () => {
    expect(['2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08', '2026-12-20'].map((d) => allowanceOn(plan, d))).toEqual([0, 500, 750, 1125, 1687, 2000]);
    expect(warmupSchedule(plan).map((d) => d.perDay)).toEqual([500, 750, 1125, 1687, 2000]);
    expect(nextUtcDay(new Date('2026-12-05T23:59:59Z'))).toBe('2026-12-06T00:00:00.000Z');
  });

  it('refuses bad plans from the CLI with the option and the fix', () => {
    const o = { from: '500/day', grow: '1.5x', until: '500000/day' };
    expect(warmupPlanOf('shop.example', o, '2026-12-05')).toEqual({ senderDomain: 'shop.example', fromPerDay: 500, growth: 1.5, untilPerDay: 500000, startedOn: '2026-12-05' });
    expect(() => warmupPlanOf('shop.example', { ...o, from: '500' })).toThrow(/--from must be a daily volume such as 500\/day/);
    expect(() => warmupPlanOf('shop.example', { ...o, grow: '0.5x' })).toThrow(/--grow must be a daily growth factor from 1x to 10x/);
    expect(() => warmupPlanOf('shop.example', { ...o, until: '100/day' })).toThrow(/--until \(100\/day\) must be at least --from/);
    expect(() => warmupPlanOf('Shop.Example', o)).toThrow(/write it lower-case/);
  });
});
