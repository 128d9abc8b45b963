// The preparation's bulk statements bind whole pages as one JSON parameter (store/json-lists.ts): what goes
// in must come back unchanged on both databases, whatever the text holds; a page of the audience comes with each
// address's standing (quarantined, opted out, already targeted).
import { preparationPage, targetOf } from '../../store/audience';
import { quarantine } from '../../store/quarantine';
import { preparationLogs, type NewSendingLog } from '../../store/sending-logs';
import { EXCLUSION_CAUSES } from '../../domain/delivery';
import { withFreshDatabase } from '../helpers/stack';

const AWKWARD = ['O\'Brien "the 2nd"', 'back\\slash $[0] ?', 'Zoë 日本 🎉', 'line\nbreak\ttab', ''];

describe('sending-log store: pages bound as JSON', () => {
  const fresh = withFreshDatabase();

  it('inserts a page exactly as given, nulls included', async () => {
    const rows: NewSendingLog[] = AWKWARD.map((name, i) => ({
      deliveryId: 'd-json', profileId: i + 1, email: `User${i}@Example.com`, status: i === 4 ? 'ignored' : 'pending',
      exclusionCause: i === 4 ? EXCLUSION_CAUSES.optedOut : undefined, personalization: JSON.stringify({ firstName: name }),
    }));
    await preparationLogs(fresh.db).insert(rows);
    const stored = await fresh.db.sendingLog.findMany({ where: { deliveryId: 'd-json' }, orderBy: { profileId: 'asc' } });
    expect(stored.map((r) => ({ profileId: r.profileId, email: r.email, addressKey: r.addressKey, status: r.status, exclusionCause: r.exclusionCause, name: JSON.parse(r.personalization).firstName })))
      .toEqual(rows.map((r, i) => ({ profileId: r.profileId, email: r.email, addressKey: `user${i}@example.com`, status: r.status, exclusionCause: r.exclusionCause ?? null, name: AWKWARD[i] })));
  });

  it('finds the quarantined addresses among a list longer than SQLite binds', async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `user${i}@example.com`);
    await fresh.db.quarantine.create({ data: { address: 'user7@example.com', status: 'quarantined', failureType: 'hard', reason: 'user unknown', errorCount: 1, lastErrorAt: new Date(), deliveryId: 'd-json' } });
    await fresh.db.quarantine.create({ data: { address: 'user8@example.com', status: 'valid', failureType: 'soft', reason: 'mailbox full', errorCount: 0, lastErrorAt: new Date(), deliveryId: 'd-json' } });
    expect([...(await quarantine(fresh.db).quarantinedAmong([...keys, "o'brien@example.com"]))]).toEqual(['user7@example.com']);
  });

  it("reads a page of the audience with each address's standing in one statement", async () => {
    // user0–4 have rows in d-json (user4's excluded); user7 is quarantined, user8 was and is valid again (above).
    const names = ['user0', 'user4', 'user5', 'user6', 'user7', 'user8', 'user9', 'User9'];
    for (const name of names) await fresh.db.profile.create({ data: { email: `${name}@Example.com`, addressKey: `${name.toLowerCase()}@example.com` } });
    await fresh.db.optOut.create({ data: { address: 'user5@example.com', source: 'cli' } });
    const list = await fresh.db.list.create({ data: { name: 'news' } });
    await fresh.db.listSubscription.createMany({ data: [
      { listId: list.id, address: 'user6@example.com', status: 'unsubscribed', source: 'cli' },
      { listId: list.id, address: 'user9@example.com', status: 'subscribed', source: 'cli' },
    ] });
    const target = await targetOf(fresh.db, { all: true });
    const standings = async (leftList?: number) => Object.fromEntries((await preparationPage(fresh.db, target, { deliveryId: 'd-json', leftList, afterId: 0, take: 100 }))
      .map((r) => [r.profile.email, Object.entries(r.standing).filter(([, v]) => v).map(([k]) => k).join(' ')]));
    expect(await standings(list.id)).toEqual({
      'user0@Example.com': 'targeted', 'user4@Example.com': '', 'user5@Example.com': 'optedOut', 'user6@Example.com': 'optedOut',
      'user7@Example.com': 'quarantined', 'user8@Example.com': '', 'user9@Example.com': '', 'User9@Example.com': '',
    });
    // Unsubscribing from a list counts only for the delivery whose unsubscribe link leaves that list.
    expect((await standings())['user6@Example.com']).toBe('');
    const page = await preparationPage(fresh.db, target, { deliveryId: 'd-json', afterId: 0, take: 3 });
    expect(page.map((r) => r.profile.email)).toEqual(names.slice(0, 3).map((n) => `${n}@Example.com`));
  });
});
