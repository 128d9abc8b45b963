// A test seam for SQLite, which has no outage to provoke from outside: the worker's database, one of whose
// statements (by default the recording of sent messages) fails with an I/O error while a fault is on (refused as
// the driver would refuse it; everything else goes through). On Postgres the fault suite uses real ones.
import type { Database } from '../../store/prisma';

/** The statement that records messages as sent (the default fault). */
export const RECORDING = /^\s*UPDATE "SendingLog" SET "status" = 'sent'/;
/** The reservation of an engine-wide domain cap's slots (store/domain-throttles.ts). */
export const RESERVATION = /^\s*UPDATE "DomainThrottle"/;

export interface FaultyDatabase {
  db: Database;
  /** The recording fails from now on, for this long. */
  failFor(ms: number): void;
  /** Recording statements refused so far. */
  readonly refused: number;
}

export function withRecordingFaults(db: Database, statement: RegExp = RECORDING): FaultyDatabase {
  let until = 0;
  let refused = 0;
  const faulty = db.$extends({
    query: {
      async $allOperations({ operation, args, query }) {
        const sql = (args as { strings?: string[] } | undefined)?.strings?.[0] ?? '';
        if ((operation === '$queryRaw' || operation === '$executeRaw') && Date.now() < until && statement.test(sql)) {
          refused++;
          throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
        }
        return query(args);
      },
    },
  });
  return {
    db: faulty as unknown as Database,
    failFor(ms) {
      until = Date.now() + ms;
    },
    get refused() {
      return refused;
    },
  };
}
