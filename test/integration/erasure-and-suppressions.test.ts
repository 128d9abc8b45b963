// An erased or opted-out person's wishes hold on every path: an import by address or by key that lands a profile on
// their address brings their opt-out and quarantine back; an erasure leaves the address in no text (the relay's
// words in reasons included), keeps only a keyed hash, and never lets a message still to send go to a hash.
import { createHash } from 'node:crypto';
import { kpisQuery } from '../../workflows/messages';
import { audienceCount, targetOf } from '../../store/audience';
import { baseSpec, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { inputFiles, runCli } from '../helpers/cli';

const D = 'wish.example';

describe('erasure and suppressions on every path', () => {
  let stack: TestStack;
  const file = inputFiles('erasure-');
  beforeAll(async () => {
    stack = await startTestStack({
      refuseRecipient: (address) => (address === `bounced@${D}` ? { code: 550, message: `5.1.1 <${address}>: Recipient address rejected: User unknown` } : undefined),
    });
  });
  afterAll(async () => stack?.close());

  const cli = async (...args: string[]) => {
    const r = await runCli(stack, args);
    if (r.code !== 0) throw new Error(`delivery ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const excludedAs = async (address: string) => {
    const c = await audienceCount(stack.db, await targetOf(stack.db, { where: { email: address } }));
    return Object.keys(c.exclusions);
  };

  it('an import by key or by address that lands a profile on an erased address brings its opt-out and quarantine back', async () => {
    await cli('profiles', 'import', file('crm.csv', `email,customerId\nann@${D},C-1\nbob@${D},C-2\ncid@${D},C-3\n`), '--key', 'customerId');
    // Three people who opted out and bounced, then asked to be forgotten.
    for (const who of ['gone1', 'gone2', 'gone3']) {
      await cli('profiles', 'import', file(`${who}.csv`, `email\n${who}@${D}\n`));
      await cli('optouts', 'add', `${who}@${D}`);
      await stack.db.quarantine.create({ data: { address: `${who}@${D}`, status: 'quarantined', failureType: 'hard', reason: 'user unknown', errorCount: 1, lastErrorAt: new Date() } });
      await cli('profiles', 'erase', `${who}@${D}`);
      expect(await stack.db.optOut.count({ where: { address: `${who}@${D}` } })).toBe(0);
    }
    // A known customer moves onto an erased address (upsert by key), another one by an update-only import by key,
    // and the third address comes back through a plain import by address.
    await cli('profiles', 'import', file('moved.csv', `email,customerId\ngone1@${D},C-1\n`), '--key', 'customerId');
    await cli('profiles', 'import', file('moved-update.csv', `email,customerId\ngone2@${D},C-2\n`), '--key', 'customerId', '--mode', 'update');
    await cli('profiles', 'import', file('back.csv', `email\ngone3@${D}\n`));
    for (const who of ['gone1', 'gone2', 'gone3']) {
      expect(await stack.db.profile.count({ where: { addressKey: `${who}@${D}` } })).toBe(1);
      expect(await stack.db.optOut.findUnique({ where: { address: `${who}@${D}` } })).not.toBeNull();
      expect(await stack.db.quarantine.findUnique({ where: { address: `${who}@${D}` } })).toMatchObject({ status: 'quarantined' });
      expect(await excludedAs(`${who}@${D}`)).toEqual(['address in quarantine']); // quarantine is judged first; the opt-out holds too
    }
    expect(await stack.db.optOut.count({ where: { address: { startsWith: 'erased:' } } })).toBe(0); // every hash was claimed back
  }, 120_000);

  it('an erasure scrubs the address from every reason, keeps a keyed hash, and never sends a message still to send', async () => {
    await seedProfiles(stack.db, ['bounced', 'pending', 'legacy', 'ok'].map((n) => ({ email: `${n}@${D}`, firstName: n })));
    const audience = { where: { email: { in: [`bounced@${D}`, `pending@${D}`, `legacy@${D}`, `ok@${D}`] } } };
    const first = await stack.start(baseSpec({ audience }));
    await first.result();
    const bounced = await stack.db.sendingLog.findFirst({ where: { deliveryId: first.workflowId, addressKey: `bounced@${D}` } });
    expect(bounced?.reason).toContain(`<bounced@${D}>`); // the relay's words quote the address
    expect((await stack.db.quarantine.findUnique({ where: { address: `bounced@${D}` } }))?.reason).toContain(`bounced@${D}`);

    // A second delivery waits for its confirm with its rows pending; meanwhile two people are erased.
    const second = await stack.start(baseSpec({ name: 'Second', audience: { where: { email: { in: [`pending@${D}`, `legacy@${D}`, `ok@${D}`] } } }, approval: 'manual' }));
    await waitForState(second, 'prepared');
    // A proof log names the address too, as written in the proof list.
    await stack.db.proofLog.create({ data: { deliveryId: first.workflowId, number: 1, email: `Pending@${D}`, status: 'failed', reason: `550 <pending@${D}> unknown` } });
    expect(await cli('profiles', 'erase', `bounced@${D}`)).toContain('1 sending log(s) scrubbed');
    expect(await cli('profiles', 'erase', `Pending@${D}`)).toContain('1 message(s) not sent yet will not be');
    // An erasure made by an earlier version left its row pending under a plain hash: it must not be sent to either.
    await stack.db.sendingLog.updateMany({ where: { deliveryId: second.workflowId, addressKey: `legacy@${D}` }, data: { email: 'sha256:0123abcd', addressKey: 'sha256:0123abcd' } });

    for (const gone of [`bounced@${D}`, `pending@${D}`]) {
      const mentions = (text: string | null) => (text ?? '').toLowerCase().includes(gone);
      expect((await stack.db.sendingLog.findMany()).filter((r) => mentions(r.email) || mentions(r.reason) || mentions(r.personalization))).toEqual([]);
      expect((await stack.db.quarantine.findMany()).filter((q) => mentions(q.address) || mentions(q.reason))).toEqual([]);
      expect((await stack.db.proofLog.findMany()).filter((p) => mentions(p.email) || mentions(p.reason))).toEqual([]);
      // Keyed: the plain SHA-256 of the address, which anyone with a list of candidates can compute, is nowhere.
      const plain = createHash('sha256').update(gone).digest('hex');
      expect((await stack.db.sendingLog.findMany()).some((r) => r.email.includes(plain))).toBe(false);
    }
    const hashed = await stack.db.quarantine.findMany({ where: { address: { startsWith: 'erased:' } } });
    expect(hashed).toHaveLength(1);
    expect(hashed[0].reason).toContain('<erased>');

    stack.sink.messages.length = 0;
    const quarantineBefore = await stack.db.quarantine.findMany({ orderBy: { address: 'asc' } });
    await second.signal('confirm');
    const { kpis } = await second.result();
    expect(kpis).toMatchObject({ toDeliver: 3, sent: 1, failed: 0, pending: 0, excludedAtSend: 2 });
    expect(stack.sink.messages.map((m) => m.to)).toEqual([`ok@${D}`]);
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: second.workflowId, status: 'ignored' }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.exclusionCause)).toEqual(['erased since the preparation', 'erased since the preparation']);
    expect(await stack.db.quarantine.findMany({ orderBy: { address: 'asc' } })).toEqual(quarantineBefore); // no RCPT TO a hash, nothing quarantined
    expect((await second.query(kpisQuery)).excludedAtSend).toBe(2);
  }, 120_000);

  it.each(['constructor', 'toString'])('--key %s matches each row by its own value, never by a name every object inherits', async (key) => {
    const before = await stack.db.profile.count();
    // Without own values, every row would have read the inherited one and collapsed into one profile.
    const empty = await runCli(stack, ['profiles', 'import', file(`${key}-empty.csv`, `email,${key}\nk1-${key}@${D},\nk2-${key}@${D},\n`), '--key', key]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(`row 2: ${key}: empty, but it is the import's key (--key ${key}): every row needs one`);
    expect(await stack.db.profile.count()).toBe(before);
    const valued = await runCli(stack, ['profiles', 'import', file(`${key}.csv`, `email,${key}\nk1-${key}@${D},K-1\nk2-${key}@${D},K-2\n`), '--key', key]);
    expect(valued.stdout).toMatch(/2 rows in .* 2 profiles added, 0 updated, 0 skipped, 0 rejected/);
  }, 60_000);

  it('refuses an attribute column named __proto__, which would replace the object instead of storing a value', async () => {
    const r = await runCli(stack, ['profiles', 'import', file('proto.csv', `email,__proto__\nproto@${D},x\n`)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the column "__proto__": "__proto__" cannot name an attribute; rename it');
  });
});
