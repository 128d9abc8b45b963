// Profile writes (imports in batches, by address or by a key attribute), reads and counts.
import { Prisma } from './generated/sqlite/client';
import { profileAddressKey } from '../domain/address';
import { KEY_NAME, type ImportedProfile } from '../domain/profile-csv';
import { attributeOf, type AttributeValue, type ProfileRecord } from '../domain/profile-fields';
import { isPostgres, type Database } from './prisma';
import { jsonStrings, jsonTable } from './json-lists';
import { retryTransient } from './transient';
import { optOuts } from './opt-outs';
import { reviveSuppressions } from './erasure';

/** insert: new addresses only; upsert: new ones added, known ones updated; update: known ones only. */
export const IMPORT_MODES = ['upsert', 'insert', 'update'] as const;
export type ImportMode = (typeof IMPORT_MODES)[number];
export type ProfileColumnName = 'email' | 'firstName' | 'lastName' | 'language' | 'country' | 'optOut';

export interface BatchResult {
  inserted: number;
  updated: number;
  /** Rows of known addresses in insert mode, of unknown ones in update mode. */
  skipped: number;
}

export interface BatchOptions {
  mode: ImportMode;
  /** Profile fields the file holds: an update changes those (and merges attributes), nothing else. */
  columns: ReadonlySet<ProfileColumnName>;
  /** Subscribe the batch's addresses to this list (an address that unsubscribed from it stays unsubscribed). */
  listId?: number;
  /**
   * Match rows to profiles by this attribute (an external id, checked by domain/profile-csv.ts parseImportKey)
   * instead of by address; an update then also moves the profile to the row's address. Call ensureKeyIndex first.
   */
  key?: string;
  /** The key of erased addresses' hashes (ERASURE_SECRET): an import onto an erased address restores its suppressions. */
  erasureSecret: string;
}

const TEXT_FIELDS = ['firstName', 'lastName', 'language', 'country'] as const;

/**
 * Writes one batch of imported profiles in one short transaction, matched by address (lower-cased) or by the
 * key attribute: a long import commits batch by batch and never holds SQLite's write lock for more than a
 * moment. Within a batch the last row of an address (or key) wins. An update changes the fields the file has a
 * value for: an empty cell leaves the stored value, attributes are merged.
 */
export async function writeProfileBatch(db: Database, profiles: ImportedProfile[], options: BatchOptions): Promise<BatchResult> {
  const postgres = isPostgres(db);
  const { key } = options;
  const byKey = new Map<string, ImportedProfile>();
  for (const p of profiles) byKey.set(key === undefined ? profileAddressKey(p.email) : keyText(attributeOf(p.attributes, key)), p);
  byKey.delete('');
  const keys = [...byKey.keys()];
  if (keys.length === 0) return { inserted: 0, updated: 0, skipped: 0 };
  const address = (k: string) => profileAddressKey(byKey.get(k)!.email);
  const matched = key === undefined ? '"Profile"."addressKey"' : keyExpression(key, postgres, '"Profile"');
  const row = (k: string, p: ImportedProfile) => [k, profileAddressKey(p.email), p.email.trim(), p.firstName, p.lastName, p.language, p.country, p.optOut, JSON.stringify(p.attributes)];
  const table = (rows: unknown[][]) => jsonTable({ k: 'text', a: 'text', email: 'text', firstName: 'text', lastName: 'text', language: 'text', country: 'text', optOut: 'bool', attributes: 'text' }, rows, postgres);
  const now = new Date();
  return retryTransient(() => db.$transaction(async (tx) => {
    const known = new Set((await tx.$queryRaw<Array<{ k: string }>>`
      SELECT DISTINCT ${Prisma.raw(matched)} AS k FROM "Profile" WHERE ${Prisma.raw(matched)} IN (${jsonStrings(keys, postgres)})`).map((r) => r.k));
    const fresh = keys.filter((k) => !known.has(k));
    const existing = keys.filter((k) => known.has(k));
    const written = options.mode === 'update' ? existing : keys;
    // Every address a profile lands on, added, updated or moved there by a key: an erased person's wishes hold again.
    await reviveSuppressions(tx, distinct(written.map(address)), postgres, options.erasureSecret);
    const result: BatchResult = { inserted: 0, updated: 0, skipped: 0 };
    if (options.mode !== 'update' && fresh.length) {
      await tx.$executeRaw`
        INSERT INTO "Profile" ("addressKey", "email", "firstName", "lastName", "language", "country", "optOut", "attributes", "createdAt", "updatedAt")
        SELECT r."a", r."email", r."firstName", r."lastName", r."language", r."country", r."optOut", r."attributes", ${now}, ${now}
        FROM ${table(fresh.map((k) => row(k, byKey.get(k)!)))} WHERE true`;
      result.inserted = fresh.length;
    } else result.skipped += fresh.length;
    if (options.mode !== 'insert' && existing.length) {
      const sets = [Prisma.raw(`"email" = r."email"`), Prisma.raw(`"addressKey" = r."a"`)];
      for (const f of TEXT_FIELDS) if (options.columns.has(f)) sets.push(Prisma.raw(`"${f}" = CASE WHEN r."${f}" = '' THEN "Profile"."${f}" ELSE r."${f}" END`));
      if (options.columns.has('optOut')) sets.push(Prisma.raw(`"optOut" = r."optOut"`));
      sets.push(Prisma.raw(postgres ? `"attributes" = ("Profile"."attributes"::jsonb || r."attributes"::jsonb)::text` : `"attributes" = json_patch("Profile"."attributes", r."attributes")`));
      await tx.$executeRaw`
        UPDATE "Profile" SET ${Prisma.join(sets, ', ')}, "updatedAt" = ${now}
        FROM ${table(existing.map((k) => row(k, byKey.get(k)!)))} WHERE ${Prisma.raw(matched)} = r."k"`;
      result.updated = existing.length;
    } else result.skipped += existing.length;

    // Opting out is the address's: every profile holding it is excluded from now on.
    const optedOut = distinct(written.filter((k) => byKey.get(k)!.optOut).map(address));
    if (optedOut.length) {
      await tx.$executeRaw`
        INSERT INTO "OptOut" ("address", "optedOutAt", "source") SELECT "value", ${now}, 'profile import' FROM ${jsonValues(optedOut, postgres)}
        WHERE true ON CONFLICT ("address") DO NOTHING`;
    }
    if (options.listId !== undefined && written.length) {
      await tx.$executeRaw`
        INSERT INTO "ListSubscription" ("listId", "address", "status", "changedAt", "source")
        SELECT ${options.listId}, "value", 'subscribed', ${now}, 'import' FROM ${jsonValues(distinct(written.map(address)), postgres)}
        WHERE true ON CONFLICT ("listId", "address") DO NOTHING`;
    }
    return result;
  }, { timeout: 60_000, maxWait: 60_000 }));
}

/**
 * The key attribute's text in a profile row. Written as the key's index holds it (an expression index serves a
 * query only when the query spells the same expression); the key is spliced, so parseImportKey must have
 * checked it (letters, digits, _).
 */
function keyExpression(key: string, postgres: boolean, table?: string): string {
  if (!KEY_NAME.test(key)) throw new Error(`Not a key column name: ${JSON.stringify(key)} (parseImportKey checks it)`);
  const column = (name: string) => (table ? `${table}."${name}"` : `"${name}"`);
  return postgres ? `(${column('attributesJson')} ->> '${key}')` : `CAST(json_extract(${column('attributes')}, '$."${key}"') AS TEXT)`;
}

/** A key value as the database's text of it: numbers as JavaScript writes them (1.5, 120), as both databases do. */
function keyText(value: AttributeValue | undefined): string {
  return value === undefined ? '' : String(value);
}

/**
 * The index a keyed import matches on, created by the first import with that key (a few seconds on 1M profiles,
 * once): without it every batch would scan the profiles.
 */
export async function ensureKeyIndex(db: Database, key: string): Promise<void> {
  await retryTransient(() => db.$executeRawUnsafe(
    `CREATE INDEX IF NOT EXISTS "Profile_key_${key}" ON "Profile" (${keyExpression(key, isPostgres(db))})`));
}

function distinct(values: string[]): string[] {
  return [...new Set(values)];
}

/** Strings as a table with one column "value". */
function jsonValues(values: string[], postgres: boolean): Prisma.Sql {
  const json = JSON.stringify(values);
  return postgres ? Prisma.sql`jsonb_array_elements_text(${json}::jsonb) AS "value"` : Prisma.sql`json_each(${json})`;
}

/**
 * Adds every one of these profiles, even several with one address (`npm start`'s example file shows the duplicate
 * rule with one; tests build such datasets). Imports go through writeProfileBatch.
 */
export async function insertProfiles(db: Database, profiles: ImportedProfile[]): Promise<number> {
  for (let i = 0; i < profiles.length; i += 1000) {
    const data = profiles.slice(i, i + 1000).map((p) => ({ ...p, attributes: JSON.stringify(p.attributes), addressKey: profileAddressKey(p.email) }));
    await retryTransient(() => db.profile.createMany({ data }));
  }
  // Opting out is the address's: every profile holding it is excluded from now on.
  await optOuts(db).add(profiles.filter((p) => p.optOut).map((p) => p.email), 'profile import');
  return profiles.length;
}

export function countProfiles(db: Database): Promise<number> {
  return db.profile.count();
}

/** n profiles user1@example.com … usern@example.com in one SQL statement (benchmarks and tests). */
export async function seedNumberedProfiles(db: Database, n: number, postgres: boolean): Promise<void> {
  await db.$executeRawUnsafe(postgres
    ? `INSERT INTO "Profile" (email, "addressKey", "firstName") SELECT 'user' || n || '@example.com', 'user' || n || '@example.com', 'User' || n FROM generate_series(1, ${n}) AS n`
    : `WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${n}) INSERT INTO "Profile" (email, addressKey, firstName) SELECT 'user' || n || '@example.com', 'user' || n || '@example.com', 'User' || n FROM seq`);
}

/** A stored profile row as the domain sees it: trimmed address, attributes parsed (an unreadable JSON is no attributes). */
export function toProfileRecord(row: Omit<ProfileRecord, 'attributes'> & { attributes: string }): ProfileRecord {
  let attributes: ProfileRecord['attributes'] = {};
  try {
    const v = JSON.parse(row.attributes) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) attributes = v as ProfileRecord['attributes'];
  } catch {
    // keep no attributes
  }
  return { ...row, email: row.email.trim(), attributes };
}
