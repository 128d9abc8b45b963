// Profile writes (imports in batches, by address), reads and counts.
import { Prisma } from './generated/sqlite/client';
import { profileAddressKey } from '../domain/address';
import type { ImportedProfile } from '../domain/profile-csv';
import type { ProfileRecord } from '../domain/profile-fields';
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
}

const TEXT_FIELDS = ['firstName', 'lastName', 'language', 'country'] as const;

/**
 * Writes one batch of imported profiles in one short transaction, matched by address (lower-cased): a long
 * import commits batch by batch and never holds SQLite's write lock for more than a moment. Within a batch
 * the last row of an address wins. An update changes the fields the file has a value for: an empty cell
 * leaves the stored value, attributes are merged.
 */
export async function writeProfileBatch(db: Database, profiles: ImportedProfile[], options: BatchOptions): Promise<BatchResult> {
  const postgres = isPostgres(db);
  const byKey = new Map<string, ImportedProfile>();
  for (const p of profiles) byKey.set(profileAddressKey(p.email), p);
  byKey.delete('');
  const keys = [...byKey.keys()];
  if (keys.length === 0) return { inserted: 0, updated: 0, skipped: 0 };
  const row = (k: string, p: ImportedProfile) => [k, p.email.trim(), p.firstName, p.lastName, p.language, p.country, p.optOut, JSON.stringify(p.attributes)];
  const table = (rows: unknown[][]) => jsonTable({ k: 'text', email: 'text', firstName: 'text', lastName: 'text', language: 'text', country: 'text', optOut: 'bool', attributes: 'text' }, rows, postgres);
  const now = new Date();
  return retryTransient(() => db.$transaction(async (tx) => {
    const known = new Set((await tx.$queryRaw<Array<{ k: string }>>`
      SELECT DISTINCT "addressKey" AS k FROM "Profile" WHERE "addressKey" IN (${jsonStrings(keys, postgres)})`).map((r) => r.k));
    const fresh = keys.filter((k) => !known.has(k));
    if (options.mode !== 'update' && fresh.length) await reviveSuppressions(tx, fresh, postgres);
    const existing = keys.filter((k) => known.has(k));
    const result: BatchResult = { inserted: 0, updated: 0, skipped: 0 };
    if (options.mode !== 'update' && fresh.length) {
      await tx.$executeRaw`
        INSERT INTO "Profile" ("addressKey", "email", "firstName", "lastName", "language", "country", "optOut", "attributes", "createdAt", "updatedAt")
        SELECT r."k", r."email", r."firstName", r."lastName", r."language", r."country", r."optOut", r."attributes", ${now}, ${now}
        FROM ${table(fresh.map((k) => row(k, byKey.get(k)!)))} WHERE true`;
      result.inserted = fresh.length;
    } else result.skipped += fresh.length;
    if (options.mode !== 'insert' && existing.length) {
      const sets = [Prisma.raw(`"email" = r."email"`)];
      for (const f of TEXT_FIELDS) if (options.columns.has(f)) sets.push(Prisma.raw(`"${f}" = CASE WHEN r."${f}" = '' THEN "Profile"."${f}" ELSE r."${f}" END`));
      if (options.columns.has('optOut')) sets.push(Prisma.raw(`"optOut" = r."optOut"`));
      sets.push(Prisma.raw(postgres ? `"attributes" = ("Profile"."attributes"::jsonb || r."attributes"::jsonb)::text` : `"attributes" = json_patch("Profile"."attributes", r."attributes")`));
      await tx.$executeRaw`
        UPDATE "Profile" SET ${Prisma.join(sets, ', ')}, "updatedAt" = ${now}
        FROM ${table(existing.map((k) => row(k, byKey.get(k)!)))} WHERE "Profile"."addressKey" = r."k"`;
      result.updated = existing.length;
    } else result.skipped += existing.length;

    const written = options.mode === 'update' ? existing : keys;
    // Opting out is the address's: every profile holding it is excluded from now on.
    const optedOut = written.filter((k) => byKey.get(k)!.optOut);
    if (optedOut.length) {
      await tx.$executeRaw`
        INSERT INTO "OptOut" ("address", "optedOutAt", "source") SELECT "value", ${now}, 'profile import' FROM ${jsonValues(optedOut, postgres)}
        WHERE true ON CONFLICT ("address") DO NOTHING`;
    }
    if (options.listId !== undefined && written.length) {
      await tx.$executeRaw`
        INSERT INTO "ListSubscription" ("listId", "address", "status", "changedAt", "source")
        SELECT ${options.listId}, "value", 'subscribed', ${now}, 'import' FROM ${jsonValues(written, postgres)}
        WHERE true ON CONFLICT ("listId", "address") DO NOTHING`;
    }
    return result;
  }, { timeout: 60_000, maxWait: 60_000 }));
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
