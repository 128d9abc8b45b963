// DKIM keys per sender domain (`delivery dkim`), their private keys sealed with DKIM_KEYS_SECRET: AES-256-GCM from
// node:crypto, with a key derived by HKDF, so a copy of the database alone signs no mail and a tampered row does not
// open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DkimKey } from '../domain/dkim-keys';
import type { Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';

export interface DkimKeyRow {
  domain: string;
  selector: string;
  keyType: string;
  createdAt: Date;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

function sealingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'email-delivery-engine', 'dkim private keys', 32));
}

/** The private key encrypted: base64 of iv + auth tag + ciphertext. The row's name is authenticated with it. */
export function sealKey(secret: string, key: DkimKey): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv);
  cipher.setAAD(Buffer.from(`${key.domain}/${key.selector}`));
  const sealed = Buffer.concat([cipher.update(key.privateKey, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
}

/** The private key of a row, or an error saying why it does not open (another secret, or a changed row). */
export function openKey(secret: string, row: { domain: string; selector: string; sealedKey: string }): string {
  const bytes = Buffer.from(row.sealedKey, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(`${row.domain}/${row.selector}`));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error(`The DKIM key ${row.selector} of ${row.domain} does not open with this DKIM_KEYS_SECRET: set the secret it was stored with (the same on every worker), or add the key again`);
  }
}

export function dkimKeys(db: Database, secret: string, retry?: TransientRetry) {
  return transientTolerant({
    /** Stores a key; false when the domain already has that selector (a rotation adds a new selector). */
    async add(key: DkimKey, keyType: string): Promise<boolean> {
      const existing = await db.dkimKey.findUnique({ where: { domain_selector: { domain: key.domain, selector: key.selector } } });
      if (existing) return false;
      await db.dkimKey.create({ data: { domain: key.domain, selector: key.selector, keyType, sealedKey: sealKey(secret, key) } });
      return true;
    },

    async list(domain?: string): Promise<DkimKeyRow[]> {
      return db.dkimKey.findMany({
        where: domain ? { domain } : undefined, orderBy: [{ domain: 'asc' }, { createdAt: 'asc' }],
        select: { domain: true, selector: true, keyType: true, createdAt: true },
      });
    },

    /**
     * The keys that sign a sender's mail, opened, oldest first (a message is signed with each): those of the sender's
     * domain, else of its closest parent that has some (news.shop.example signed as shop.example: DMARC's relaxed
     * alignment passes). None: the mail goes unsigned, as the preparation warned.
     */
    async keysFor(senderDomain: string): Promise<DkimKey[]> {
      const candidates = senderDomain.split('.').map((_, i, labels) => labels.slice(i).join('.')).filter((d) => d.includes('.'));
      const rows = await db.dkimKey.findMany({ where: { domain: { in: candidates } }, orderBy: [{ createdAt: 'asc' }, { selector: 'asc' }] });
      const closest = candidates.find((d) => rows.some((r) => r.domain === d));
      return rows.filter((r) => r.domain === closest).map((r) => ({ domain: r.domain, selector: r.selector, privateKey: openKey(secret, r) }));
    },

    async remove(domain: string, selector: string): Promise<boolean> {
      const { count } = await db.dkimKey.deleteMany({ where: { domain, selector } });
      return count > 0;
    },
  }, retry);
}
