// Audience conditions, segments and lists on a crafted dataset, with exact counts. The same file runs on SQLite
// (`npm test`) and Postgres (`npm run test:postgres`) with the same expected numbers: identical on both.
import { kpisQuery } from '../../workflows/messages';
import { importProfileFile } from '../../client/profile-file';
import { audienceCount, audiencePage, targetOf } from '../../store/audience';
import { segments } from '../../store/segments';
import { lists } from '../../store/lists';
import { preparationLogs } from '../../store/sending-logs';
import { baseSpec, eventually, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { inputFiles, runCli } from '../helpers/cli';

const N = 100;
const DAY = 24 * 3600_000;
const COUNTRIES = ['DE', 'FR', 'BE', 'GB'];
const now = Date.now();

/** The crafted dataset, as rows the oracle below reads. */
interface Person { i: number; email: string; country: string; plan?: string; score: number; signedUp: string; lastPurchase: string; zip: string }
const people: Person[] = Array.from({ length: N }, (_, k) => {
  const i = k + 1;
  return {
    i, email: `user${i}@example.com`, country: COUNTRIES[i % 4],
    plan: i % 10 === 0 ? undefined : i % 3 === 0 ? 'pro' : 'basic',
    score: i,
    signedUp: new Date(Date.UTC(2026, 0, 1) + (i - 1) * DAY).toISOString().slice(0, 10), // 2026-01-01 … 2026-04-10
    lastPurchase: new Date(now - i * DAY + 12 * 3600_000).toISOString(), // i days ago, less 12 hours
    zip: `0${1000 + i}`, // a leading zero: stays text
  };
});
const csv = ['email,country,plan,score,signedUp,lastPurchase,zip',
  ...people.map((p) => [p.email, p.country, p.plan ?? '', p.score, p.signedUp, p.lastPurchase, p.zip].join(',')),
  'text-score@example.com,FR,pro,n/a,someday,,x', // a score that is not a number: never compared as one
].join('\n');
const count = (pred: (p: Person) => boolean) => people.filter(pred).length;

describe('audiences: conditions, behaviour, segments and lists', () => {
  let stack: TestStack;
  const file = inputFiles('audiences-');
  beforeAll(async () => {
    stack = await startTestStack({
      refuseRecipient: (address) => (address === 'user5@example.com' ? { code: 550, message: '5.1.1 user unknown' } : undefined),
    });
    const report = await importProfileFile(stack.db, file('people.csv', csv), { mode: 'upsert', erasureSecret: stack.erasureSecret });
    expect(report).toMatchObject({ rows: N + 1, inserted: N + 1, updated: 0, rejected: 0 });
  }, 120_000);
  afterAll(async () => stack?.close());

  const targeted = async (where: Record<string, unknown>) => (await audienceCount(stack.db, await targetOf(stack.db, { where }))).targeted;

  it('applies each operator, with numbers compared as numbers and dates as dates', async () => {
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ country: 'FR' }, count((p) => p.country === 'FR') + 1],
      [{ country: { ne: 'FR' } }, count((p) => p.country !== 'FR')],
      [{ country: ['FR', 'BE'] }, count((p) => ['FR', 'BE'].includes(p.country)) + 1],
      [{ country: { nin: ['FR', 'BE'] } }, count((p) => !['FR', 'BE'].includes(p.country))],
      [{ email: { contains: 'user1' } }, 12], // user1, user10…19, user100
      [{ email: { startsWith: 'user9' } }, 11],
      [{ email: { endsWith: '0@example.com' } }, 10],
      [{ 'attributes.plan': { exists: true } }, count((p) => p.plan !== undefined) + 1],
      [{ 'attributes.plan': { exists: false } }, 10],
      [{ 'attributes.score': { gte: 10 } }, 91], // 10 holds, 9 does not: not a text comparison ("9" > "10")
      [{ 'attributes.score': { gt: 90 } }, 10],
      [{ 'attributes.score': { lt: 10 } }, 9],
      [{ 'attributes.score': { lte: 10 } }, 10],
      [{ 'attributes.score': { between: [10, 20] } }, 11],
      [{ 'attributes.score': 42 }, 1],
      [{ 'attributes.score': { in: [1, 2, 300] } }, 2],
      [{ 'attributes.zip': '01042' }, 1],
      [{ 'attributes.signedUp': { between: ['2026-01-10', '2026-01-20'] } }, 11],
      [{ 'attributes.signedUp': { gt: '2026-04-01T12:00:00Z' } }, count((p) => p.signedUp > '2026-04-01')],
      [{ 'attributes.lastPurchase': { gte: '-30d' } }, 30],
      [{ 'attributes.lastPurchase': { lt: '-2w' } }, count((p) => p.i > 14)],
      [{ createdAt: { gte: '-1d' } }, N + 1],
      [{ updatedAt: { lt: '-1h' } }, 0],
      [{ optOut: false }, N + 1],
    ];
    const results = [];
    for (const [where] of cases) results.push(await targeted(where));
    expect(results).toEqual(cases.map(([, n]) => n));
  });

  it('nests and / or / not, a missing attribute counting as not matching (so not keeps it)', async () => {
    const where = { and: [{ country: ['FR', 'BE'] }, { or: [{ 'attributes.plan': 'pro' }, { 'attributes.score': { gt: 95 } }] }, { not: { 'attributes.score': { lt: 50 } } }] };
    // text-score (FR, pro, score "n/a") has no number to be below 50: `not` keeps it.
    expect(await targeted(where)).toBe(count((p) => ['FR', 'BE'].includes(p.country) && (p.plan === 'pro' || p.score > 95) && !(p.score < 50)) + 1);
    expect(await targeted({ not: { 'attributes.plan': 'pro' } })).toBe(count((p) => p.plan !== 'pro'));
    expect(await targeted({ 'attributes.plan': { ne: 'pro' } })).toBe(count((p) => p.plan !== 'pro'));
    // The page query returns exactly the profiles the count counts.
    const page = await audiencePage(stack.db, await targetOf(stack.db, { where }), 0, 1000);
    expect(page.map((p) => p.email)).toEqual(people.filter((p) => ['FR', 'BE'].includes(p.country) && (p.plan === 'pro' || p.score > 95) && p.score >= 50).map((p) => p.email).concat('text-score@example.com'));
  });

  it('resolves segments inside segments, and refuses unknown names and cycles with their path', async () => {
    const seg = segments(stack.db);
    await seg.save('fr-be', { country: ['FR', 'BE'] });
    await seg.save('fr-be-pro', { and: [{ segment: 'fr-be' }, { 'attributes.plan': 'pro' }] });
    expect(await targeted({ segment: 'fr-be-pro' })).toBe(count((p) => ['FR', 'BE'].includes(p.country) && p.plan === 'pro') + 1);
    await expect(seg.save('fr-be', { segment: 'fr-be-pro' }, { replace: true })).rejects.toThrow(/fr-be → fr-be-pro → fr-be/);
    await expect(targetOf(stack.db, { where: { or: [{ country: 'FR' }, { segment: 'nope' }] } })).rejects.toThrow('audience.where.or[1].segment: unknown segment "nope"');
    await expect(seg.remove('fr-be')).rejects.toThrow('segment "fr-be" is used by "fr-be-pro"');
    expect(JSON.parse((await stack.db.segment.findUnique({ where: { name: 'fr-be' } }))!.condition)).toEqual({ country: ['FR', 'BE'] });
    // The CLI says the same, exit 2, nothing changed.
    const cycle = await runCli(stack, ['segments', 'create', 'fr-be', '{"segment":"fr-be-pro"}', '--replace']);
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toMatch(/would contain itself \(fr-be → fr-be-pro → fr-be\)/);
    const bad = await runCli(stack, ['segments', 'create', 'scores', '{"and":[{"country":"FR"},{"attributes.score":{"gte":"ten"}}]}']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('condition.and[1].attributes.score.gte: expects a number');
    expect(await seg.find('scores')).toBeUndefined();
    const start = await runCli(stack, ['start', file('unknown-segment.json', JSON.stringify(baseSpec({ audience: { where: { segment: 'nope' } } })))]);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain('audience.where.segment: unknown segment "nope"');
    expect(await stack.client.workflow.count(`TaskQueue = "${stack.taskQueue}"`)).toEqual(expect.objectContaining({ count: 0 }));
  });

  it('targets list subscribers; a list-scoped unsubscribe leaves the list only, and the global opt-out still wins', async () => {
    const l = lists(stack.db);
    await l.create('news');
    const news = (await l.idOf('news'))!;
    await l.setStatus(news, people.slice(0, 20).map((p) => p.email), 'subscribed', 'cli');
    expect((await runCli(stack, ['lists', 'unsubscribe', 'news', 'USER2@example.com'])).code).toBe(0);
    expect(await targeted({ list: 'news' })).toBe(19);
    // user3 opted out of everything: subscribed to news, still excluded.
    await stack.db.optOut.create({ data: { address: 'user3@example.com', source: 'unsubscribe link' } });
    const handle = await stack.start(baseSpec({
      audience: { where: { list: 'news' } }, unsubscribeFrom: { list: 'news' },
      html: '<p>Hi</p><a href="{{unsubscribeUrl}}">Unsubscribe</a>', typology: { name: 'transactional' },
    }));
    await waitForState(handle, 'sent');
    const kpis = await handle.query(kpisQuery);
    expect(kpis).toMatchObject({ targeted: 19, toDeliver: 18 });
    const mail = stack.sink.messages.find((m) => m.to === 'user4@example.com')!.mail;
    const unsubscribe = /href="([^"]+\/u\/[^"]+)"/.exec(String(mail.html))![1];
    const page = await fetch(unsubscribe, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(await page.text()).toContain('unsubscribed from the list “news”');
    expect(await targeted({ list: 'news' })).toBe(18);
    expect(await stack.db.optOut.findUnique({ where: { address: 'user4@example.com' } })).toBeNull(); // not opted out of everything
    expect(await stack.db.listSubscription.findUnique({ where: { listId_address: { listId: news, address: 'user4@example.com' } } }))
      .toMatchObject({ status: 'unsubscribed', source: 'unsubscribe link', deliveryId: handle.workflowId });
    await stack.db.optOut.deleteMany();
    stack.sink.messages.length = 0;
  }, 120_000);

  it('evaluates behaviour after real deliveries and tracking events', async () => {
    const first = await stack.start(baseSpec({
      audience: { where: { 'attributes.score': { lte: 10 } } },
      html: '<p>Hi</p><a href="https://shop.example/sale">Sale</a>', typology: { name: 'transactional' },
    }));
    await waitForState(first, 'sent');
    const mailOf = (to: string) => String(stack.sink.messages.find((m) => m.to === to)!.mail.html);
    for (const i of [1, 2, 3, 4]) expect((await fetch(/<img src="([^"]+)"/.exec(mailOf(`user${i}@example.com`))![1])).status).toBe(200);
    for (const i of [1, 2]) expect((await fetch(/href="([^"]+)"/.exec(mailOf(`user${i}@example.com`))![1], { redirect: 'manual' })).status).toBe(302);
    const id = first.workflowId;
    // The events are written by the tracking server in batches: wait for this delivery's four openers and two
    // clickers (an earlier delivery's unsubscription is an event too, so a count of all events could pass one short).
    const reached = async (kind: string) => (await stack.db.trackingEvent.findMany({ where: { deliveryId: id, kind }, distinct: ['sendingLogId'], select: { sendingLogId: true } })).length;
    await eventually(async () => (await reached('open')) === 4 && (await reached('click')) === 2, 10_000, 'tracking events written');
    expect(await targeted({ received: { delivery: id } })).toBe(9); // user5 is in quarantine since the list delivery
    // This delivery's 9 and the list delivery's 17 (users 1…20 but 2, 3 and 5): 19 profiles.
    expect(await targeted({ received: { delivery: 'any', within: '1h' } })).toBe(19);
    expect(await targeted({ bounced: { delivery: 'any' } })).toBe(1); // user5, refused in the list delivery, then quarantined
    expect(await targeted({ bounced: { delivery: id } })).toBe(0);
    expect(await targeted({ opened: { delivery: id } })).toBe(4);
    expect(await targeted({ opened: { within: '30d' } })).toBe(4);
    expect(await targeted({ clicked: {} })).toBe(2);
    expect(await targeted({ unsubscribed: { delivery: 'any' } })).toBe(1); // user4, from the list delivery
    expect(await targeted({ and: [{ received: { delivery: id } }, { not: { opened: { delivery: id } } }] })).toBe(5);
    expect(await targeted({ opened: { delivery: 'someone-else' } })).toBe(0);
  }, 120_000);

  it('previews a segment with the exclusions by cause, exactly as the next preparation counts them', async () => {
    await seedProfiles(stack.db, [
      { email: 'USER7@example.com', attributes: { score: 7 } }, // a second profile of user7: duplicate
      { email: 'not-an-address', attributes: { score: 8 } },
      { email: '', attributes: { score: 9 } },
    ]);
    await stack.db.quarantine.create({ data: { address: 'user6@example.com', status: 'quarantined', failureType: 'hard', reason: 'user unknown', errorCount: 1, lastErrorAt: new Date() } });
    await stack.db.optOut.create({ data: { address: 'user8@example.com', source: 'unsubscribe link' } });
    await segments(stack.db).save('top', { 'attributes.score': { lte: 12 } });
    const preview = await runCli(stack, ['segments', 'count', 'top', '--json']);
    expect(preview.code).toBe(0);
    const counted = JSON.parse(preview.stdout) as { targeted: number; toDeliver: number; exclusions: Record<string, number> };
    expect(counted).toEqual({
      targeted: 15, toDeliver: 9, toExclude: 6,
      exclusions: { 'address in quarantine': 2, 'opted out': 1, duplicate: 1, 'invalid address': 1, 'address not specified': 1 },
    });
    const handle = await stack.start(baseSpec({ audience: { where: { segment: 'top' } }, approval: 'manual' }));
    await waitForState(handle, 'prepared');
    const kpis = await handle.query(kpisQuery);
    expect({ targeted: kpis.targeted, toDeliver: kpis.toDeliver, toExclude: kpis.toExclude }).toEqual({ targeted: 15, toDeliver: 9, toExclude: 6 });
    expect((await preparationLogs(stack.db).exclusionCounts(handle.workflowId)).exclusions).toEqual(counted.exclusions);
    await handle.cancel();
  }, 120_000);

  it('fails the preparation of an audience naming an unknown list, with its path', async () => {
    const handle = await stack.start(baseSpec({ audience: { where: { and: [{ country: 'FR' }, { list: 'gone' }] } } }));
    await waitForState(handle, 'failed');
    const { status } = await (await import('../../client/deliveries')).readSnapshot(stack.client, handle.workflowId);
    expect(status.error).toContain('audience.where.and[1].list: unknown list "gone"');
  }, 60_000);

  it('upserts by address on a second import, merging attributes, and refuses a bad file whole', async () => {
    const again = file('again.csv', 'Email,plan,score:number\nUSER1@example.com,gold,1000\nnew@example.com,,5\n');
    const r = await runCli(stack, ['profiles', 'import', again, '--list', 'news']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 rows in .* 1 profiles added, 1 updated, 0 skipped, 0 rejected/);
    const user1 = await stack.db.profile.findMany({ where: { addressKey: 'user1@example.com' } });
    expect(user1).toHaveLength(1);
    expect(JSON.parse(user1[0].attributes)).toMatchObject({ plan: 'gold', score: 1000, zip: '01001' });
    expect(await targeted({ and: [{ list: 'news' }, { 'attributes.score': { gte: 1000 } }] })).toBe(1);
    const before = await stack.db.profile.count();
    const bad = await runCli(stack, ['profiles', 'import', file('bad.csv', 'email,score:number\nx@example.com,ten\n')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('row 2: score: "ten" is not a number');
    expect(await stack.db.profile.count()).toBe(before);
    const insertOnly = await runCli(stack, ['profiles', 'import', again, '--mode', 'insert']);
    expect(insertOnly.stdout).toMatch(/0 profiles added, 0 updated, 2 skipped/);
  }, 60_000);

  it('imports by a key column (an external id): a new address moves the same profile, numbers match as text, a row without a key is refused', async () => {
    expect((await runCli(stack, ['lists', 'create', 'crm'])).code).toBe(0);
    const first = await runCli(stack, ['profiles', 'import', file('crm.csv', 'email,customerId,plan\ncrm1@example.com,C-1,basic\ncrm2@example.com,C-2,basic\nnum@example.com,120,basic\n'), '--key', 'customerId']);
    expect(first.stdout).toMatch(/3 rows in .* 3 profiles added, 0 updated, 0 skipped, 0 rejected/);
    const moved = file('crm-moved.csv', 'email,customerId,plan\nCRM1-new@example.com,C-1,pro\ncrm3@example.com,C-3,basic\nnum-new@example.com,120,\n');
    const second = await runCli(stack, ['profiles', 'import', moved, '--key', 'customerId', '--list', 'crm']);
    expect(second.stdout).toMatch(/3 rows in .* 1 profiles added, 2 updated, 0 skipped, 0 rejected/);
    const c1 = await stack.db.profile.findMany({ where: { attributes: { contains: '"C-1"' } } });
    expect(c1.map((p) => [p.email, p.addressKey, JSON.parse(p.attributes).plan])).toEqual([['CRM1-new@example.com', 'crm1-new@example.com', 'pro']]);
    expect(await stack.db.profile.count({ where: { addressKey: { in: ['crm1@example.com', 'num@example.com'] } } })).toBe(0);
    expect(await targeted({ list: 'crm' })).toBe(3); // the addresses the second file holds
    expect(await targeted({ 'attributes.customerId': { eq: 120 } })).toBe(1); // still a number: the key matched its text

    const before = await stack.db.profile.count();
    const noKey = await runCli(stack, ['profiles', 'import', file('crm-nokey.csv', 'email,customerId\ncrm4@example.com,\n'), '--key', 'customerId']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("row 2: customerId: empty, but it is the import's key (--key customerId): every row needs one");
    const noColumn = await runCli(stack, ['profiles', 'import', file('crm-nocolumn.csv', 'email\ncrm5@example.com\n'), '--key', 'customerId', '--skip-invalid']);
    expect(noColumn.code).toBe(2);
    expect(noColumn.stderr).toContain('the header has no column "customerId" for --key customerId (columns: email)');
    const byName = await runCli(stack, ['profiles', 'import', moved, '--key', 'firstName']);
    expect(byName.code).toBe(2);
    expect(byName.stderr).toContain('--key firstName: firstName does not identify a profile');
    expect(await stack.db.profile.count()).toBe(before);
  }, 60_000);

  it('targets a file for one delivery, and lists, shows and deletes profiles from the CLI', async () => {
    const audienceFile = file('audience.csv', 'email,firstName\nuser11@example.com,Eleven\nfresh@example.com,Fresh\n');
    const started = await runCli(stack, ['start', file('from-file.json', JSON.stringify(baseSpec({ name: 'From file' }))), '--audience-file', audienceFile]);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    const handle = stack.client.workflow.getHandle(id);
    await waitForState(handle, 'sent');
    expect(await handle.query(kpisQuery)).toMatchObject({ targeted: 2, toDeliver: 2 });
    expect(stack.sink.messages.filter((m) => ['user11@example.com', 'fresh@example.com'].includes(m.to))).toHaveLength(2);
    expect(await lists(stack.db).idOf(`file.${id}`)).toBeDefined();
    const bad = await runCli(stack, ['start', file('from-bad-file.json', JSON.stringify(baseSpec())), '--audience-file', file('bad-audience.csv', 'email\nnot-an-address\n')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('row 2: email: "not-an-address" is not a valid address');

    const listed = await runCli(stack, ['profiles', 'list', '--where', '{"attributes.score":{"between":[41,43]}}', '--json']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as Array<{ email: string }>).map((p) => p.email)).toEqual(['user41@example.com', 'user42@example.com', 'user43@example.com']);
    const badWhere = await runCli(stack, ['profiles', 'list', '--where', '{"attributes.score":{"gte":"ten"}}']);
    expect(badWhere.code).toBe(2);
    expect(badWhere.stderr).toContain('audience.where.attributes.score.gte: expects a number');
    const shown = await runCli(stack, ['profiles', 'show', 'User42@example.com', '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ profiles: [{ email: 'user42@example.com', attributes: { score: 42 } }] });
    // As text: readable JSON, one field a line (not one line of escaped newlines).
    const text = await runCli(stack, ['profiles', 'show', 'user42@example.com']);
    expect(text.stdout).toMatch(/^\{\n {2}"profiles": \[\n/);
    expect(text.stdout).not.toContain('\\x0a');
    // A list longer than a page says so, and pages on.
    expect((await runCli(stack, ['lists', 'subscribe', 'paged', ...Array.from({ length: 7 }, (_, i) => `p${i}@example.com`)])).code).toBe(2); // no such list yet
    expect((await runCli(stack, ['lists', 'create', 'paged'])).code).toBe(0);
    await runCli(stack, ['lists', 'subscribe', 'paged', ...Array.from({ length: 7 }, (_, i) => `p${i}@example.com`)]);
    const first = await runCli(stack, ['lists', 'show', 'paged', '--limit', '5']);
    expect(first.stdout).toContain('(5 of 7 shown; 2 more: --offset 5)');
    const rest = await runCli(stack, ['lists', 'show', 'paged', '--limit', '5', '--offset', '5']);
    expect(rest.stdout.split('\n').filter((l) => /^p\d@example\.com/.test(l))).toHaveLength(2);
    expect(rest.stdout).not.toContain('more: --offset');
    expect((await runCli(stack, ['profiles', 'delete', 'user42@example.com'])).stdout).toContain('1 profile(s) of user42@example.com deleted');
    expect((await runCli(stack, ['profiles', 'delete', 'user42@example.com'])).code).toBe(2);
  }, 120_000);

  it('erases an address: profile gone, logs scrubbed, opt-out kept as a hash and back in force on re-import', async () => {
    await stack.db.optOut.upsert({ where: { address: 'user10@example.com' }, create: { address: 'user10@example.com', source: 'unsubscribe link' }, update: {} });
    const erased = await runCli(stack, ['profiles', 'erase', 'User10@example.com']);
    expect(erased.code).toBe(0);
    expect(await stack.db.profile.count({ where: { addressKey: 'user10@example.com' } })).toBe(0);
    expect(await stack.db.sendingLog.count({ where: { email: 'user10@example.com' } })).toBe(0);
    expect(await stack.db.optOut.findUnique({ where: { address: 'user10@example.com' } })).toBeNull();
    expect(await stack.db.optOut.count({ where: { address: { startsWith: 'erased:' } } })).toBe(1);
    await importProfileFile(stack.db, file('back.csv', 'email\nuser10@example.com\n'), { mode: 'upsert', erasureSecret: stack.erasureSecret });
    expect(await stack.db.optOut.findUnique({ where: { address: 'user10@example.com' } })).not.toBeNull();
  }, 60_000);

  it('lists, adds and removes opt-outs from the CLI: an address subscribed again is targeted again', async () => {
    const three = { email: { in: ['user30@example.com', 'user31@example.com', 'user32@example.com'] } };
    const counted = async () => {
      const c = await audienceCount(stack.db, await targetOf(stack.db, { where: three }));
      return { toDeliver: c.toDeliver, optedOut: c.exclusions['opted out'] ?? 0 };
    };
    expect(await counted()).toEqual({ toDeliver: 3, optedOut: 0 });
    expect((await runCli(stack, ['optouts', 'add', 'User30@example.com', 'user31@example.com'])).stdout).toContain('2 address(es) opted out');
    expect((await runCli(stack, ['optouts', 'add', 'user30@example.com'])).stdout).toContain('0 address(es) opted out (1 already were)');
    const bad = await runCli(stack, ['optouts', 'add', 'user32@example.com', 'not-an-address']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"not-an-address" is not a valid address: nothing was changed');
    await importProfileFile(stack.db, file('opted.csv', 'email,optOut\nuser32@example.com,yes\n'), { mode: 'update', erasureSecret: stack.erasureSecret }); // the flag and the opt-out
    expect(await counted()).toEqual({ toDeliver: 0, optedOut: 3 });
    const listed = JSON.parse((await runCli(stack, ['optouts', 'list', '--source', 'cli', '--json'])).stdout) as { total: number; rows: Array<{ address: string; source: string }> };
    expect(listed.total).toBe(2);
    expect(listed.rows.map((r) => r.address).sort()).toEqual(['user30@example.com', 'user31@example.com']);
    expect((await runCli(stack, ['optouts', 'list', '--limit', '1'])).stdout).toMatch(/opted out \(next page: --offset 1\)/);
    expect((await runCli(stack, ['optouts', 'list', '--source', 'link'])).stderr).toContain('--source must be one of "unsubscribe link", "profile import", "cli", "complaint", "esp" (got "link")');

    const removed = await runCli(stack, ['optouts', 'remove', 'user30@example.com', 'USER32@example.com']);
    expect(removed.stdout).toContain('2 address(es) subscribed again: user30@example.com, user32@example.com');
    expect(await counted()).toEqual({ toDeliver: 2, optedOut: 1 });
    expect(await stack.db.profile.count({ where: { addressKey: 'user32@example.com', optOut: true } })).toBe(0);
    const again = await runCli(stack, ['optouts', 'remove', 'user30@example.com']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('none of these addresses is opted out: nothing was changed');
  }, 60_000);
});
