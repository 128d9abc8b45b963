import { parseDeliveryStatus, qualifyBounce, reportParts } from '../../domain/dsn';
import { sendingLogOfBounce, signedMessageId, verpAddress } from '../../domain/bounce-references';
import { afterFailure } from '../../domain/quarantine';
import { nextRetryAt } from '../../domain/retries';
import { holdoutRank, resolveTypology, selectHoldouts } from '../../domain/typology';
import { checkContent, checkSigning, MessageChecks } from '../../domain/control-rules';
import { errorSummary } from '../../domain/delivery';
import { dsn } from '../helpers/dsn';

describe('delivery status notifications', () => {
  const raw = dsn({ to: 'bounces+42@b.example', recipient: 'ann@example.com', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: '<delivery-x.42@shop.example>' });

  it('are split into their report parts and recipients', () => {
    const parts = reportParts(raw);
    expect(parseDeliveryStatus(parts.deliveryStatus!)).toEqual([{ finalRecipient: 'ann@example.com', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' }]);
    expect(parts.original).toContain('Message-ID: <delivery-x.42@shop.example>');
    expect(reportParts('Subject: hello\r\n\r\nnot a report')).toEqual({});
  });

  it('map back to their sending log only through a signed VERP address or Message-ID', () => {
    const secret = 'a-secret-of-the-workers';
    const verp = verpAddress(secret, 42, 'b.example');
    expect(verp).toMatch(/^bounces\+42-[0-9a-f]{24}@b\.example$/);
    expect(sendingLogOfBounce(secret, { envelopeTo: [verp] })).toBe(42);
    expect(sendingLogOfBounce(secret, { envelopeTo: [verp.toUpperCase()] })).toBe(42); // MTAs may change the case
    const mid = signedMessageId(secret, 7, 'shop.example');
    expect(sendingLogOfBounce(secret, { envelopeTo: ['postmaster@b.example'], originalMessageId: mid })).toBe(7);
    // guessed or altered references name nothing
    expect(sendingLogOfBounce(secret, { envelopeTo: ['bounces+42@b.example'] })).toBeUndefined();
    expect(sendingLogOfBounce(secret, { envelopeTo: [verp.replace('bounces+42-', 'bounces+43-')] })).toBeUndefined();
    expect(sendingLogOfBounce('another-secret-entirely', { envelopeTo: [verp] })).toBeUndefined();
    expect(sendingLogOfBounce(secret, { envelopeTo: [], originalMessageId: '<delivery-a.7@shop.example>' })).toBeUndefined();
    expect(sendingLogOfBounce(secret, { envelopeTo: [], originalMessageId: mid.replace('<7.', '<8.') })).toBeUndefined();
    expect(sendingLogOfBounce(secret, { envelopeTo: ['postmaster@b.example'] })).toBeUndefined();
  });

  it('qualify permanent failures as hard bounces and delays as soft', () => {
    expect(qualifyBounce({ finalRecipient: 'a@b', action: 'failed', status: '5.2.2', diagnostic: '552 5.2.2 mailbox full' })).toEqual({ kind: 'hard', party: 'recipient', failure: { type: 'hard', reason: 'mailbox full (5.2.2 552 5.2.2 mailbox full)' } });
    expect(qualifyBounce({ finalRecipient: 'a@b', action: 'delayed', status: '4.4.1' })).toMatchObject({ kind: 'soft', failure: { type: 'soft' } });
    expect(qualifyBounce({ finalRecipient: 'a@b', action: 'delivered', status: '2.0.0' })).toEqual({ kind: 'none' });
  });
});

describe('quarantine and retries', () => {
  const now = new Date('2026-11-22T10:00:00Z');
  it('quarantines at once on a hard failure, after the threshold on soft ones, never for ignored ones', () => {
    expect(afterFailure(undefined, { type: 'hard', reason: 'user unknown' }, 5, now)).toMatchObject({ status: 'quarantined', errorCount: 1, quarantinedAt: now });
    let s = afterFailure(undefined, { type: 'soft', reason: 'mailbox full' }, 2, now);
    expect(s).toMatchObject({ status: 'valid', errorCount: 1 });
    s = afterFailure(s, { type: 'soft', reason: 'mailbox full' }, 2, now);
    expect(s).toMatchObject({ status: 'quarantined', errorCount: 2 });
    expect(afterFailure(undefined, { type: 'ignored', reason: 'not connected' }, 2, now)).toBeUndefined();
  });

  it('retries with a doubling delay until the validity period ends', () => {
    const policy = { validitySeconds: 3600, firstDelaySeconds: 600, maxDelaySeconds: 1200 };
    expect(nextRetryAt(now, 1, now, policy)).toEqual(new Date('2026-11-22T10:10:00Z'));
    expect(nextRetryAt(now, 2, now, policy)).toEqual(new Date('2026-11-22T10:20:00Z'));
    expect(nextRetryAt(now, 3, now, policy)).toEqual(new Date('2026-11-22T10:20:00Z')); // capped
    expect(nextRetryAt(new Date('2026-11-22T10:50:00Z'), 1, now, policy)).toEqual(new Date('2026-11-22T11:00:00Z')); // the last moment
    expect(nextRetryAt(new Date('2026-11-22T10:51:00Z'), 1, now, policy)).toBeUndefined(); // past the validity period
  });

  it('summarizes errors by reason, most frequent first', () => {
    expect(errorSummary({ 'user unknown': 1, 'mailbox full': 2 })).toBe('3 errors: mailbox full 2, user unknown 1');
    expect(errorSummary({})).toBe('0 errors');
  });
});

describe('typologies', () => {
  it('resolve a named typology with the spec\'s overrides', () => {
    expect(resolveTypology({ name: 'marketing', rules: {} })).toMatchObject({ unsubscribeLink: { level: 'error' }, pressure: { maxMessages: 3, periodDays: 7 } });
    expect(resolveTypology({ name: 'marketing', rules: { pressure: null } }).pressure).toBeNull();
    expect(resolveTypology({ name: 'transactional', rules: {} }).unsubscribeLink).toBeNull();
    expect(resolveTypology(undefined).messageSize).toEqual({ level: 'warning', maxKb: 60 });
  });

  it('hold out the same control group for the same seed, then apply capacity to the rest', () => {
    const candidates = Array.from({ length: 100 }, (_, i) => ({ id: 1000 + i, profileId: i + 1 }));
    const a = selectHoldouts(candidates, { controlGroup: { percent: 10 }, capacity: { maxRecipients: 50, priority: 'oldest' } }, 'seed');
    const b = selectHoldouts([...candidates].reverse(), { controlGroup: { percent: 10 }, capacity: { maxRecipients: 50, priority: 'oldest' } }, 'seed');
    expect(a.controlGroup).toHaveLength(10);
    expect(new Set(b.controlGroup)).toEqual(new Set(a.controlGroup));
    expect(a.capacity).toHaveLength(40);
    expect(a.capacity.some((id) => a.controlGroup.includes(id))).toBe(false);
    expect(holdoutRank('seed', 1)).not.toBe(holdoutRank('other', 1));
  });

  it('check that the sender domain signs its mail, unless the typology leaves signing to the relay', () => {
    const t = resolveTypology(undefined);
    expect(checkSigning({ domain: 'shop.example', keys: 2 }, t)).toEqual([]);
    expect(checkSigning({ domain: 'shop.example', keys: 0 }, t)).toEqual([{ rule: 'DKIM signature', level: 'warning', message: expect.stringContaining('delivery dkim add shop.example') }]);
    expect(checkSigning({ domain: 'shop.example', keys: 0 }, resolveTypology({ name: 'default', rules: { dkimSignature: { level: 'error' } } }))).toMatchObject([{ level: 'error' }]);
    const relaySigns = resolveTypology({ name: 'marketing', rules: { dkimSignature: null } });
    expect(checkSigning({ domain: 'shop.example', keys: 0 }, relaySigns)).toEqual([]);
    // Keys that do not open fail the preparation whatever the rule says: the sending could not sign.
    expect(checkSigning({ domain: 'shop.example', problem: 'does not open with this DKIM_KEYS_SECRET' }, relaySigns)).toMatchObject([{ level: 'error' }]);
  });

  it('check the content and every rendered message', () => {
    const t = resolveTypology({ name: 'default', rules: { messageSize: { level: 'warning', maxKb: 1 } } });
    expect(checkContent({ html: '<a href="https://x.example/unsubscribe?u=1">stop</a>', text: 'https://x.example/unsubscribe' }, t)).toEqual([]);
    expect(checkContent({ html: '<p>no link</p>', proofTo: Array(101).fill('a@b.example') }, t).map((f) => [f.rule, f.level])).toEqual([['unsubscribe link', 'warning'], ['proof size', 'error']]);
    const checks = new MessageChecks(t);
    checks.check(1, { subject: ' ', html: 'x'.repeat(2000) });
    checks.check(2, { subject: 'ok', html: 'short' });
    expect(checks.findings().map((f) => f.message)).toEqual([
      'the subject is empty for 1 recipient(s) (first: profile 1)',
      '1 message(s) exceed 1 KB (largest 2 KB); keep messages under ~35 KB',
    ]);
  });
});
