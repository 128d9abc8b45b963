import { parseSecretList } from '../../domain/secrets';
import { signToken, verifyToken } from '../../domain/tracking';
import { sendingLogOfBounce, signedMessageId, verpAddress } from '../../domain/bounce-references';
import { trackingConfig } from '../../temporal/config';

const OLD = 'old-secret-0123456789abcdef';
const NEW = 'new-secret-0123456789abcdef';
const target = { deliveryId: 'newsletter-12', sendingLogId: 42, linkId: 3 };

describe('signing secrets rotate: the first signs, every one verifies', () => {
  it('a link signed with the old secret still verifies during the rotation, and no longer once the old one is dropped', () => {
    const old = signToken(OLD, 'click', target);
    expect(verifyToken([NEW, OLD], 'click', old)).toEqual(target);
    expect(verifyToken([NEW], 'click', old)).toBeUndefined();
    expect(verifyToken([NEW, OLD], 'open', old)).toBeUndefined(); // still bound to its kind
  });

  it('return paths and Message-IDs of messages sent before the rotation still name their message', () => {
    const verp = verpAddress(OLD, 42, 'bounces.shop.example');
    const messageId = signedMessageId(OLD, 42, 'shop.example');
    expect(sendingLogOfBounce([NEW, OLD], { envelopeTo: [verp] })).toBe(42);
    expect(sendingLogOfBounce([NEW, OLD], { envelopeTo: [], originalMessageId: messageId })).toBe(42);
    expect(sendingLogOfBounce([NEW], { envelopeTo: [verp], originalMessageId: messageId })).toBeUndefined();
  });

  it('reads TRACKING_SECRET as a list, and names what is wrong with it', () => {
    expect(trackingConfig({ TRACKING_SECRET: `${NEW}, ${OLD}` })).toMatchObject({ secret: NEW, verifyWith: [NEW, OLD] });
    expect(parseSecretList(`${NEW},short`, 'TRACKING_SECRET')).toEqual({ problem: expect.stringContaining('at least 16 characters') });
    expect(parseSecretList(`${NEW},${NEW}`, 'TRACKING_SECRET')).toEqual({ problem: 'TRACKING_SECRET names the same secret twice' });
    expect(() => trackingConfig({ TRACKING_SECRET: 'short' })).toThrow(/TRACKING_SECRET must be one secret of at least 16 characters/);
  });
});
