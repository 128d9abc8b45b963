// The preparation's bulk statements bind whole pages as one JSON parameter (store/json-lists.ts): what goes
// in must come back unchanged on both databases, whatever the text holds.
import { quarantine } from '../../store/quarantine';
import { preparationLogs, type NewSendingLog } from '../../store/sending-logs';
import { openDatabase, type Database } from '../../store/prisma';
import { EXCLUSION_CAUSES } from '../../domain/delivery';
import { freshDatabase } from '../helpers/stack';

const AWKWARD = ['O\'Brien "the 2nd"', 'back\\slash $[0] ?', 'Zoë 日本 🎉', 'line\nbreak\ttab', ''];

describe('sending-log store: pages bound as JSON', () => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase(fresh.url);
  });
  afterAll(async () => {
    await db?.$disconnect();
    await drop?.();
  });

  it('inserts a page exactly as given, nulls included', async () => {
    const rows: NewSendingLog[] = AWKWARD.map((name, i) => ({
      deliveryId: 'd-json', profileId: i + 1, email: `User${i}@Example.com`, status: i === 4 ? 'ignored' : 'pending',
      exclusionCause: i === 4 ? EXCLUSION_CAUSES.optedOut : undefined, personalization: JSON.stringify({ firstName: name }),
    }));
    await preparationLogs(db).insert(rows);
    const stored = await db.sendingLog.findMany({ where: { deliveryId: 'd-json' }, orderBy: { profileId: 'asc' } });
    expect(stored.map((r) => ({ profileId: r.profileId, email: r.email, addressKey: r.addressKey, status: r.status, exclusionCause: r.exclusionCause, name: JSON.parse(r.personalization).firstName })))
      .toEqual(rows.map((r, i) => ({ profileId: r.profileId, email: r.email, addressKey: `user${i}@example.com`, status: r.status, exclusionCause: r.exclusionCause ?? null, name: AWKWARD[i] })));
  });

  it('finds the targeted and quarantined addresses among a list longer than SQLite binds', async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `user${i}@example.com`);
    // user4 is excluded (ignored), so not targeted
    expect([...(await preparationLogs(db).targetedAmong('d-json', keys))].sort()).toEqual(['user0@example.com', 'user1@example.com', 'user2@example.com', 'user3@example.com']);
    await db.quarantine.create({ data: { address: 'user7@example.com', status: 'quarantined', failureType: 'hard', reason: 'user unknown', errorCount: 1, lastErrorAt: new Date(), deliveryId: 'd-json' } });
    await db.quarantine.create({ data: { address: 'user8@example.com', status: 'valid', failureType: 'soft', reason: 'mailbox full', errorCount: 0, lastErrorAt: new Date(), deliveryId: 'd-json' } });
    expect([...(await quarantine(db).quarantinedAmong([...keys, "o'brien@example.com"]))]).toEqual(['user7@example.com']);
  });
});
