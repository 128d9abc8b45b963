// The audience: profiles matching the delivery's filter, read in id order, one page at a time.
// Raw SQL rather than Prisma's query builder: a profiled preparation spent ~70% of its CPU in Prisma's
// query compiler and result mapping for these pages and the sending-log inserts (bench/prepare.ts).
import { Prisma } from './generated/sqlite/client';
import type { Audience } from '../domain/spec';
import { isProfileField, type ProfileRecord } from '../domain/profile-fields';
import { isPostgres, type Database } from './prisma';
import { toProfileRecord } from './profiles';

interface ProfileRow {
  id: number;
  email: string;
  firstName: string;
  lastName: string;
  language: string;
  country: string;
  optOut: boolean | number | bigint;
  attributes: string;
}

/** Up to `take` profiles of the audience with an id above `afterId`, in id order. */
export async function audiencePage(db: Database, audience: Audience, afterId: number, take: number): Promise<ProfileRecord[]> {
  const rows = await db.$queryRaw<ProfileRow[]>`
    SELECT "id", "email", "firstName", "lastName", "language", "country", "optOut", "attributes" FROM "Profile"
    WHERE "id" > ${afterId} ${audienceFilter(audience, isPostgres(db))}
    ORDER BY "id" LIMIT ${take}`;
  // SQLite has no booleans (0/1), and Postgres' driver may give ids of big tables as bigint.
  return rows.map((r) => toProfileRecord({ ...r, id: Number(r.id), optOut: Boolean(Number(r.optOut)) }));
}

/** `AND "field" = value` per filter field; the field names were checked against the profile fields by the spec. */
function audienceFilter(audience: Audience, postgres: boolean): Prisma.Sql {
  if ('all' in audience) return Prisma.empty;
  const value = (v: string | boolean) => (typeof v === 'boolean' && !postgres ? Number(v) : v);
  return Prisma.join(Object.entries(audience.where).map(([field, v]) => {
    if (!isProfileField(field)) throw new Error(`audience: unknown profile field "${field}"`); // never spliced into SQL
    const column = Prisma.raw(`"${field}"`);
    return Array.isArray(v) ? Prisma.sql`AND ${column} IN (${Prisma.join(v)})` : Prisma.sql`AND ${column} = ${value(v)}`;
  }), ' ');
}
