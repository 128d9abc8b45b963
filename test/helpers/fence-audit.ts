// An audit of the sending logs' writes, in the database itself: any change to a row by a sending attempt that
// does not own it is recorded. Owning a row means it is `sending` under the attempt's claim; owners keep their
// claim in every write (store/sending-logs.ts). The only writes that change a row's owner: a claim (pending →
// sending), the re-queue of a dead attempt's rows (sending → pending, claim NULL), a stop (cancelled), and the
// preparation's hold-outs (pending ↔ ignored). A DSN (the bounce listener) turns a sent row failed or marks its
// delay, keeping its claim.
import Database from 'better-sqlite3';
import { Client as PgClient } from 'pg';

const ALLOWED = (is: string) => `
     (OLD."status" = 'pending' AND NEW."status" = 'sending')
  OR (OLD."status" = 'sending' AND NEW."status" = 'pending' AND NEW."claim" IS NULL)
  OR (NEW."status" = 'cancelled')
  OR (OLD."status" IN ('pending', 'ignored') AND NEW."status" IN ('pending', 'ignored') AND OLD."claim" ${is} NEW."claim")
  OR (OLD."status" = 'sending' AND OLD."claim" ${is} NEW."claim")
  OR (OLD."status" = 'sent' AND NEW."status" IN ('sent', 'failed') AND OLD."claim" ${is} NEW."claim" AND (NEW."bouncedAt" IS NOT NULL OR NEW."delayedAt" IS NOT NULL))`;

export interface FenceViolation {
  id: number;
  oldStatus: string;
  newStatus: string;
  oldClaim: string | null;
  newClaim: string | null;
}

export async function auditFencing(url: string): Promise<{ violations(): Promise<FenceViolation[]> }> {
  const table = 'CREATE TABLE "FenceViolation" ("id" INTEGER, "oldStatus" TEXT, "newStatus" TEXT, "oldClaim" TEXT, "newClaim" TEXT)';
  const insert = 'INSERT INTO "FenceViolation" VALUES (OLD."id", OLD."status", NEW."status", OLD."claim", NEW."claim")';
  const select = 'SELECT * FROM "FenceViolation" ORDER BY "id"';
  if (url.startsWith('file:')) {
    const db = new Database(url.slice('file:'.length));
    db.exec(`${table}; CREATE TRIGGER "fence_audit" AFTER UPDATE ON "SendingLog" WHEN NOT (${ALLOWED('IS')}) BEGIN ${insert}; END;`);
    db.close();
    return {
      async violations() {
        const reader = new Database(url.slice('file:'.length), { readonly: true });
        try {
          return reader.prepare(select).all() as FenceViolation[];
        } finally {
          reader.close();
        }
      },
    };
  }
  const run = async <T>(sql: string) => {
    const client = new PgClient({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  };
  await run(`${table}; CREATE FUNCTION fence_audit() RETURNS trigger AS $$ BEGIN IF NOT (${ALLOWED('IS NOT DISTINCT FROM')}) THEN ${insert}; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER fence_audit AFTER UPDATE ON "SendingLog" FOR EACH ROW EXECUTE FUNCTION fence_audit();`);
  return { violations: () => run<FenceViolation>(select) };
}
