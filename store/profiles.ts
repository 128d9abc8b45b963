// Profile writes and counts.
import type { ImportedProfile } from '../domain/profile-csv';
import type { ProfileRecord } from '../domain/profile-fields';
import type { Database } from './prisma';
import { retryTransient } from './transient';
import { optOuts } from './opt-outs';

const ROWS_PER_BATCH = 1000;

/** Inserts profiles in batches; `onProgress` gets the number inserted so far. All or nothing. */
export async function insertProfiles(db: Database, profiles: ImportedProfile[], onProgress?: (done: number) => void): Promise<number> {
  const data = profiles.map((p) => ({ ...p, attributes: JSON.stringify(p.attributes) }));
  await retryTransient(() => db.$transaction(async (tx) => {
    for (let i = 0; i < data.length; i += ROWS_PER_BATCH) {
      await tx.profile.createMany({ data: data.slice(i, i + ROWS_PER_BATCH) });
      onProgress?.(Math.min(i + ROWS_PER_BATCH, data.length));
    }
  }, { timeout: 10 * 60_000, maxWait: 60_000 }));
  // Opting out is the address's: every profile holding it is excluded from now on.
  await optOuts(db).add(profiles.filter((p) => p.optOut).map((p) => p.email), 'profile import');
  return data.length;
}

export function countProfiles(db: Database): Promise<number> {
  return db.profile.count();
}

/** n profiles user1@example.com … usern@example.com in one SQL statement (benchmarks and tests). */
export async function seedNumberedProfiles(db: Database, n: number, postgres: boolean): Promise<void> {
  await db.$executeRawUnsafe(postgres
    ? `INSERT INTO "Profile" (email, "firstName") SELECT 'user' || n || '@example.com', 'User' || n FROM generate_series(1, ${n}) AS n`
    : `WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${n}) INSERT INTO "Profile" (email, firstName) SELECT 'user' || n || '@example.com', 'User' || n FROM seq`);
}

/** A stored profile row as the domain sees it: trimmed address, attributes parsed (an unreadable JSON is no attributes). */
export function toProfileRecord(row: Omit<ProfileRecord, 'attributes'> & { attributes: string }): ProfileRecord {
  let attributes: Record<string, string> = {};
  try {
    const v = JSON.parse(row.attributes) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) attributes = v as Record<string, string>;
  } catch {
    // keep no attributes
  }
  return { ...row, email: row.email.trim(), attributes };
}
