// mailauth parses the PEM private key again for every message it signs: crypto.createPrivateKey costs ~0.3 ms with
// OpenSSL 3, ten times the ed25519 signature itself, and was 58% of a signing thread's time. A signing thread signs
// with the same few keys all along, so it keeps their parsed KeyObjects, keyed by the PEM. mailauth takes no
// KeyObject, hence this seam on node:crypto, installed only in the signing threads (dkim-thread.ts); the signature
// is still made by mailauth with Node's crypto, and test/unit/dkim.test.ts verifies what a thread signs.
import crypto from 'node:crypto';

const MAX_KEYS = 16;

/** Installs the cache on node:crypto; returns what undoes it (tests). */
export function keepParsedPrivateKeys(): () => void {
  const parse = crypto.createPrivateKey;
  const parsed = new Map<string, crypto.KeyObject>();
  crypto.createPrivateKey = ((key: Parameters<typeof parse>[0]) => {
    const pem = typeof key === 'object' && 'key' in key && Buffer.isBuffer(key.key) && key.format === 'pem' ? key.key.toString('latin1') : undefined;
    if (pem === undefined) return parse(key);
    let keyObject = parsed.get(pem);
    if (!keyObject) {
      if (parsed.size >= MAX_KEYS) parsed.clear();
      parsed.set(pem, (keyObject = parse(key)));
    }
    return keyObject;
  }) as typeof crypto.createPrivateKey;
  return () => void (crypto.createPrivateKey = parse);
}
