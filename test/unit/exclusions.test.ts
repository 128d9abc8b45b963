import { exclusionCause, type ExclusionContext } from '../../domain/exclusions';
import type { ProfileRecord } from '../../domain/profile-fields';
import { isValidAddress } from '../../domain/address';
import { qualifySmtpReply } from '../../domain/failures';
import { kpisAfterPreparation, kpisWithSending, percent } from '../../domain/delivery';

describe('always-on typology rules', () => {
  const profile = (email: string, more: Partial<ProfileRecord> = {}): ProfileRecord => ({
    id: 1, email, firstName: '', lastName: '', language: '', country: '', optOut: false, attributes: {}, ...more,
  });
  const context = (more: Partial<ExclusionContext> = {}): ExclusionContext => ({
    targeted: new Set(['ann@example.com']), quarantined: new Set(), optedOut: new Set(), recentMessages: new Map(),
    typology: { filters: [], pressure: null }, ...more,
  });

  it('gives each excluded profile its cause, first eligible profile of an address wins', () => {
    expect(exclusionCause(profile(''), context())).toBe('address not specified');
    expect(exclusionCause(profile('ann@'), context())).toBe('invalid address');
    expect(exclusionCause(profile('bob@example.com', { optOut: true }), context())).toBe('opted out');
    expect(exclusionCause(profile('ANN@example.com'), context())).toBe('duplicate');
    // opting out belongs to the address: another profile of it, in another case, is out too
    expect(exclusionCause(profile('Carl@Example.com'), context({ optedOut: new Set(['carl@example.com']) }))).toBe('opted out');
    expect(exclusionCause(profile('bob@example.com'), context())).toBeUndefined();
    expect(exclusionCause(profile('Bob@Example.com'), context({ quarantined: new Set(['bob@example.com']) }))).toBe('address in quarantine');
  });

  it('applies filtering rules by domain, field and attribute, and the pressure rule', () => {
    const typology: ExclusionContext['typology'] = {
      filters: [
        { name: 'competitors', where: { domain: ['rival.example'] } },
        { name: 'French VIPs', where: { country: 'FR', 'attributes.segment': 'vip' } },
      ],
      pressure: { maxMessages: 2, periodDays: 7 },
    };
    const ctx = context({ typology, recentMessages: new Map([[7, 2], [8, 1]]) });
    expect(exclusionCause(profile('x@RIVAL.example'), ctx)).toBe('filter: competitors');
    expect(exclusionCause(profile('y@shop.example', { country: 'FR', attributes: { segment: 'VIP' } }), ctx)).toBe('filter: French VIPs');
    expect(exclusionCause(profile('y@shop.example', { country: 'FR', attributes: { segment: 'new' } }), ctx)).toBeUndefined();
    expect(exclusionCause(profile('z@shop.example', { id: 7 }), ctx)).toBe('pressure');
    expect(exclusionCause(profile('z@shop.example', { id: 8 }), ctx)).toBeUndefined();
  });

  it('accepts ordinary addresses and refuses malformed, Unicode and spaced ones', () => {
    for (const ok of ['a@b.example', 'first.last+tag@sub.example.co.uk', 'x@xn--bcher-kva.example']) expect(isValidAddress(ok)).toBe(true);
    for (const bad of ['a@b', 'a b@c.example', 'a..b@c.example', '.a@c.example', 'a@-c.example', 'bücher@example.com', 'a@bücher.example', 'a@b.example\r\nBcc: c@d.example']) {
      expect(isValidAddress(bad)).toBe(false);
    }
  });
});

describe('SMTP failure qualification', () => {
  it('qualifies permanent and temporary replies with a reason in the user\'s words', () => {
    expect(qualifySmtpReply(550, '5.1.1 <x@y>: user unknown')).toEqual({ type: 'hard', reason: 'user unknown (5.1.1 <x@y>: user unknown)' });
    expect(qualifySmtpReply(452, '4.2.2 mailbox full')).toMatchObject({ type: 'soft', reason: expect.stringMatching(/^mailbox full/) });
    expect(qualifySmtpReply(554, '5.7.1 rejected by policy')).toMatchObject({ type: 'hard', reason: expect.stringMatching(/^refused/) });
    expect(qualifySmtpReply(421, 'service not available')).toMatchObject({ type: 'soft', reason: expect.stringMatching(/^unreachable/) });
  });
});

describe('KPI arithmetic', () => {
  it('derives pending and delivered from preparation and sending totals', () => {
    const k = kpisAfterPreparation({ targeted: 10, toDeliver: 8, toExclude: 2, exclusions: { duplicate: 2 }, warnings: [] });
    expect(k).toMatchObject({ targeted: 10, toDeliver: 8, toExclude: 2, pending: 8 });
    expect(kpisWithSending(k, { sent: 5, delivered: 5, failed: 1, possibleDuplicates: 0, excludedAtSend: 0 })).toMatchObject({ sent: 5, delivered: 5, failed: 1, pending: 2 });
    // a later hard bounce: still sent, no longer delivered, counted as an error
    expect(kpisWithSending(k, { sent: 5, delivered: 4, failed: 2, possibleDuplicates: 0, excludedAtSend: 0 })).toMatchObject({ sent: 5, delivered: 4, failed: 2, pending: 2 });
    // excluded at send time (opted out or quarantined since the preparation): no longer pending
    expect(kpisWithSending(k, { sent: 5, delivered: 4, failed: 2, possibleDuplicates: 0, excludedAtSend: 2 })).toMatchObject({ pending: 0, excludedAtSend: 2 });
    expect(percent(1, 3)).toBe('33.3%');
    expect(percent(1, 0)).toBe('0%');
  });
});
