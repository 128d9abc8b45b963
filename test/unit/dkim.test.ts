// DKIM: the engine's messages signed with RSA and ed25519 keys, and with two selectors during a rotation, verified by
// an independent verifier (mailauth's dkimVerify) against the TXT records `dkimDnsRecord` gives to publish.
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { deliveryMessages } from '../../domain/message';
import { mimeSkeleton } from '../../domain/mime';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { dkimDnsRecord, dkimPrivateKey, generateDkimKey, type DkimKey } from '../../domain/dkim-keys';
import { openKey, sealKey } from '../../store/dkim-keys';
import { dkimSigner } from '../../activities/sending/dkim';
import { signingPool } from '../../activities/sending/signing-pool';
import { keepParsedPrivateKeys } from '../../activities/sending/parsed-keys';
import crypto from 'node:crypto';

const content = { from: 'Shop <news@shop.example>', subject: 'Winter sale, {{firstName}}', html: '<p>Hi {{firstName}}</p><a href="https://shop.example/sale">Sale</a>' };

function engineMessage(): string {
  const composed = deliveryMessages('d-dkim', content, { baseUrl: 'https://t.shop.example', secret: 's'.repeat(32) }).compose(7, { firstName: 'Ann' });
  return mimeSkeleton(content.from, 'd-dkim')({ to: 'ann@example.com', ...composed });
}

/** A DNS that holds exactly the records published. */
const dnsOf = (keys: DkimKey[]) => {
  const records = new Map(keys.map((k) => [dkimDnsRecord(k).name, dkimDnsRecord(k).value]));
  return async (name: string, type: string) => {
    const value = type === 'TXT' ? records.get(name) : undefined;
    if (!value) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    return [[value]];
  };
};

const verdicts = async (raw: string, keys: DkimKey[]) => (await dkimVerify(raw, { resolver: dnsOf(keys) })).results
  .map((r) => `${r.signingDomain}/${r.selector}: ${r.status.result}`);

describe('DKIM signing', () => {
  const rsa: DkimKey = { domain: 'shop.example', selector: 's2026', privateKey: generateDkimKey('rsa-2048') };
  const ed: DkimKey = { domain: 'shop.example', selector: 'e2026', privateKey: generateDkimKey('ed25519') };

  it('signs with RSA-2048 and with ed25519, and an independent verifier passes both from the published records', async () => {
    expect(await verdicts(await dkimSigner([rsa])(engineMessage()), [rsa])).toEqual(['shop.example/s2026: pass']);
    expect(await verdicts(await dkimSigner([ed])(engineMessage()), [ed])).toEqual(['shop.example/e2026: pass']);
    expect(dkimDnsRecord(rsa)).toMatchObject({ name: 's2026._domainkey.shop.example', value: expect.stringMatching(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/) });
    expect(dkimDnsRecord(ed).value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]{44}$/);
  });

  it('signs with both selectors during a rotation: each verifies while published, the new one alone after', async () => {
    const next: DkimKey = { ...rsa, selector: 's2027', privateKey: generateDkimKey('rsa-2048') };
    const signed = await dkimSigner([rsa, next])(engineMessage());
    expect((await verdicts(signed, [rsa, next])).sort()).toEqual(['shop.example/s2026: pass', 'shop.example/s2027: pass']);
    expect((await verdicts(signed, [next])).sort()).toEqual(['shop.example/s2026: neutral', 'shop.example/s2027: pass']);
  });

  it('a signing thread (which keeps each parsed key) signs message after message, each verifying, during a rotation too', async () => {
    const next: DkimKey = { ...ed, selector: 'e2027', privateKey: generateDkimKey('ed25519') };
    const pool = signingPool([rsa, ed, next], 1);
    try {
      const signed = await Promise.all(['ann', 'bob', 'cid'].map((name) => pool.sign(engineMessage().replace(/ann@/g, `${name}@`))));
      for (const raw of signed) expect((await verdicts(raw, [rsa, ed, next])).sort()).toEqual(['shop.example/e2026: pass', 'shop.example/e2027: pass', 'shop.example/s2026: pass']);
      expect(new Set(signed.map((raw) => /^DKIM-Signature:[^]*?\bb=([^;]*)/m.exec(raw)![1])).size).toBe(3); // each its own signature
    } finally {
      await pool.close();
    }
  });

  it('a signing thread parses each PEM key once: the same key object for the same PEM, other keys and forms parsed as ever', () => {
    const undo = keepParsedPrivateKeys();
    try {
      const pem = (k: DkimKey) => ({ key: Buffer.from(k.privateKey), format: 'pem' as const });
      const first = crypto.createPrivateKey(pem(ed));
      expect(crypto.createPrivateKey(pem(ed))).toBe(first);
      expect(crypto.createPrivateKey(pem(rsa))).not.toBe(first);
      expect(crypto.createPrivateKey(pem(rsa)).asymmetricKeyType).toBe('rsa');
      expect(crypto.createPrivateKey(ed.privateKey)).not.toBe(first); // a string: not mailauth's call, parsed again
    } finally {
      undo();
    }
    expect(crypto.createPrivateKey({ key: Buffer.from(ed.privateKey), format: 'pem' })).not.toBe(crypto.createPrivateKey({ key: Buffer.from(ed.privateKey), format: 'pem' }));
  });

  it('covers the body and the headers bulk mail carries: a changed one fails', async () => {
    const signed = await dkimSigner([rsa])(engineMessage());
    const covered = /\bh=([^;]*);/.exec(signed)![1].split(':').map((h) => h.trim().toLowerCase());
    expect(covered).toEqual(expect.arrayContaining(['from', 'subject', 'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'feedback-id']));
    // mailauth reads a body hash mismatch as neutral (RFC 6376 lets a verifier), a bad signature as fail: neither passes.
    expect(await verdicts(signed.replace('Sale</a>', 'SALE</a>'), [rsa])).toEqual(['shop.example/s2026: neutral']);
    expect(await verdicts(signed.replace(/^Subject: .*$/m, 'Subject: Changed'), [rsa])).toEqual(['shop.example/s2026: fail']);
  });

  it('reads PKCS#8 and PKCS#1 private keys, and refuses what cannot sign for Gmail and Yahoo', () => {
    expect(dkimPrivateKey(rsa.privateKey)).toEqual({ ok: true, privateKey: rsa.privateKey, keyType: 'rsa-2048' });
    expect(dkimPrivateKey(ed.privateKey)).toEqual({ ok: true, privateKey: ed.privateKey, keyType: 'ed25519' });
    const pkcs1 = createPrivateKey(rsa.privateKey).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(dkimPrivateKey(pkcs1)).toEqual({ ok: true, privateKey: rsa.privateKey, keyType: 'rsa-2048' });
    expect(dkimPrivateKey('not a key')).toMatchObject({ ok: false, problem: expect.stringContaining('is not a PEM private key') });
    const publicOnly = createPublicKey(rsa.privateKey).export({ type: 'spki', format: 'pem' }).toString();
    expect(dkimPrivateKey(publicOnly)).toMatchObject({ ok: false, problem: expect.stringContaining('is not a PEM private key') });
    const small = generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(dkimPrivateKey(small)).toEqual({ ok: false, problem: expect.stringContaining('RSA key of 768 bits') });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(dkimPrivateKey(ec)).toEqual({ ok: false, problem: expect.stringContaining('is a ec key') });
  });
});

describe('DKIM keys at rest', () => {
  const key: DkimKey = { domain: 'shop.example', selector: 's2026', privateKey: generateDkimKey('ed25519') };
  const secret = 'k'.repeat(32);

  it('are sealed: the stored text holds no part of the key and opens with the secret alone', () => {
    const sealed = sealKey(secret, key);
    expect(sealed).not.toContain(key.privateKey.split('\n')[1].slice(0, 20));
    expect(sealKey(secret, key)).not.toBe(sealed); // a fresh IV each time
    expect(openKey(secret, { ...key, sealedKey: sealed })).toBe(key.privateKey);
    expect(() => openKey('x'.repeat(32), { ...key, sealedKey: sealed })).toThrow(/does not open with this DKIM_KEYS_SECRET/);
  });

  it('cannot be moved to another domain or selector, nor altered', () => {
    const sealed = sealKey(secret, key);
    expect(() => openKey(secret, { ...key, domain: 'other.example', sealedKey: sealed })).toThrow(/does not open/);
    expect(() => openKey(secret, { ...key, selector: 's2027', sealedKey: sealed })).toThrow(/does not open/);
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1] ^= 1;
    expect(() => openKey(secret, { ...key, sealedKey: bytes.toString('base64') })).toThrow(/does not open/);
  });
});
