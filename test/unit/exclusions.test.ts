import { exclusionCause } from '../../domain/exclusions';
import { isValidAddress } from '../../domain/address';
import { qualifySmtpReply } from '../../domain/failures';
import { kpisAfterPreparation, kpisWithSending, percent } from '../../domain/delivery';

describe('always-on typology rules', () => {
  it('gives each excluded profile its cause, first profile of an address wins', () => {
    const seen = new Set(['ann@example.com']);
    expect(exclusionCause({ email: '', optOut: false }, seen)).toBe('address not specified');
    expect(exclusionCause({ email: 'ann@', optOut: false }, seen)).toBe('invalid address');
    expect(exclusionCause({ email: 'bob@example.com', optOut: true }, seen)).toBe('opted out');
    expect(exclusionCause({ email: 'ANN@example.com', optOut: false }, seen)).toBe('duplicate');
    expect(exclusionCause({ email: 'bob@example.com', optOut: false }, seen)).toBeUndefined();
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
    expect(kpisWithSending(k, { sent: 5, failed: 1, resentAfterCrash: 0 })).toMatchObject({ sent: 5, delivered: 5, failed: 1, pending: 2 });
    expect(percent(1, 3)).toBe('33.3%');
    expect(percent(1, 0)).toBe('0%');
  });
});
