// The delivery every benchmark sends (a ~5 KB HTML message with one personalized field and one link),
// and the empty database it starts from.
import type { Database } from '../store/prisma';
export const BENCH_HTML = `<html><body><h1>Hello {{firstName}}</h1>${'<p>Our new catalogue is out: lamps, chairs and tables for every room of the house.</p>'.repeat(55)}<a href="https://shop.example/unsubscribe">Unsubscribe</a></body></html>`;

// trackingHours 0: the workflow ends when the last message is accepted (the bench waits for its result).
export function benchDelivery(profiles: number, parallelSenders = 1) {
  return { name: `Benchmark ${profiles}`, from: 'Bench <bench@shop.example>', subject: 'Hello {{firstName}}', html: BENCH_HTML, audience: { all: true }, parallelSenders, trackingHours: 0 };
}

/**
 * A Postgres database is reused between runs: what an earlier run left (profiles above all) would join
 * this run's audience as duplicates. SQLite runs use a new file each time.
 */
export async function emptyPostgres(db: Database): Promise<void> {
  await db.$executeRawUnsafe('TRUNCATE "TrackingEvent", "SendingLog", "ProofLog", "Delivery", "Profile", "Quarantine", "OptOut", "Segment", "List", "ListSubscription"');
}
