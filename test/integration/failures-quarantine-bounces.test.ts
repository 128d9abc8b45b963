import { runCli } from '../helpers/cli';
import { dsn, sendRaw } from '../helpers/dsn';
import { baseSpec, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { startBounceListener } from '../../worker/bounce-listener';
import { kpisQuery, logsQuery, exclusionsQuery } from '../../workflows/messages';

const D = 'x.example';
const seen = new Map<string, number>();
const firstTimeOnly = (address: string) => {
  seen.set(address, (seen.get(address) ?? 0) + 1);
  return seen.get(address) === 1;
};

describe('failures, retries, quarantine and bounces', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      bounceDomain: 'bounces.test',
      refuseRecipient: (address) => {
        if (address === `unknown@${D}`) return { code: 550, message: '5.1.1 <unknown@x.example>: user unknown' };
        if (address === `full@${D}`) return { code: 452, message: '4.2.2 mailbox full' };
        if (address === `policy@${D}`) return { code: 554, message: '5.7.1 rejected by policy' };
        if (address === `busy@${D}` && firstTimeOnly(address)) return { code: 421, message: '4.4.2 try again later' };
        return undefined;
      },
      dropConnection: (address) => address === `drop@${D}` && firstTimeOnly(address),
    });
    await seedProfiles(stack.db, ['unknown', 'full', 'policy', 'busy', 'drop', 'ok1', 'ok2', 'ok3', 'ok4', 'ok5'].map((n) => ({ email: `${n}@${D}`, firstName: n })));
  });
  afterAll(async () => stack?.close());

  // One retry fits in the validity period (2 s after a first failure within 2 s of the start), a second one
  // (2 s later again) never does. 1 s / 1.5 s left 0.5 s for the first attempt: a loaded CI machine took longer.
  const retries = { validitySeconds: 4, firstDelaySeconds: 2, maxDelaySeconds: 2 };

  it('qualifies each SMTP reply, retries soft failures within the validity period and quarantines', async () => {
    const handle = await stack.start(baseSpec({ retries }));
    const outcome = await handle.result();
    expect(outcome.kpis).toMatchObject({ targeted: 10, toDeliver: 10, sent: 7, delivered: 7, failed: 3, pending: 0 });

    const rows = new Map((await stack.db.sendingLog.findMany()).map((r) => [r.email.split('@')[0], r]));
    expect(rows.get('unknown')).toMatchObject({ status: 'failed', failureType: 'hard', softFailures: 0, reason: 'user unknown (550 5.1.1 <unknown@x.example>: user unknown)' });
    expect(rows.get('policy')).toMatchObject({ status: 'failed', failureType: 'hard', reason: 'refused (554 5.7.1 rejected by policy)' });
    // 452 is temporary: retried after 2 s, then the 4 s validity period is over
    expect(rows.get('full')).toMatchObject({ status: 'failed', failureType: 'soft', softFailures: 1, reason: 'mailbox full (452 4.2.2 mailbox full)' });
    // 421 closes the channel whatever the command, and a connection cut before the content: the relay's faults,
    // not the recipients'. The message was given back unsent and the sending attempt retried with backoff.
    expect(rows.get('busy')).toMatchObject({ status: 'sent', softFailures: 0, failureType: null, reason: null });
    expect(rows.get('drop')).toMatchObject({ status: 'sent', softFailures: 0, failureType: null, reason: null });
    expect(stack.sink.countByRecipient().get(`busy@${D}`)).toBe(1);
    expect(stack.sink.countByRecipient().get(`drop@${D}`)).toBe(1);

    const logs = (await handle.query(logsQuery)).entries.map((e) => e.message);
    expect(logs).toContainEqual(expect.stringMatching(/waiting to retry after a soft failure/));

    const hard = JSON.parse((await runCli(stack, ['logs', handle.workflowId, '--recipients', '--status', 'failed', '--failure-type', 'hard', '--json'])).stdout);
    expect(hard.rows.map((r: { email: string }) => r.email).sort()).toEqual([`policy@${D}`, `unknown@${D}`]);
    const byReason = await runCli(stack, ['logs', handle.workflowId, '--recipients', '--reason', 'mailbox full']);
    expect(byReason.stdout).toMatch(/^Recipient +Status +Type +Reason \/ cause +Retries\n-+/);
    expect(byReason.stdout).toMatch(new RegExp(`full@${D} +failed +soft +mailbox full \\(452 4\\.2\\.2 mailbox full\\) +1`));
    expect(byReason.stdout).toContain('(1 of 1 recipients)');
    expect(logs.at(-1)).toBe('Delivery sent: 7 sent (70.0%); 3 errors: mailbox full 1, refused 1, user unknown 1');

    const q = new Map((await stack.db.quarantine.findMany()).map((r) => [r.address.split('@')[0], r]));
    expect(q.get('unknown')).toMatchObject({ status: 'quarantined', failureType: 'hard', errorCount: 1 });
    expect(q.get('policy')).toMatchObject({ status: 'quarantined', failureType: 'hard' });
    expect(q.get('full')).toMatchObject({ status: 'valid', failureType: 'soft', errorCount: 2 }); // below the threshold (3 in tests)
    expect(q.has('busy')).toBe(false); // never held against the address
    expect(q.has('drop')).toBe(false);
  });

  it('excludes from a second delivery the addresses quarantined by the first, and releases them from the CLI', async () => {
    const handle = await stack.start(baseSpec({ name: 'Second', retries }));
    const outcome = await handle.result();
    // the mailbox still full: its third soft error quarantines the address, so its retry is not sent (excluded at send time)
    expect(outcome.kpis).toMatchObject({ targeted: 10, toDeliver: 8, toExclude: 2, sent: 7, failed: 0, excludedAtSend: 1, pending: 0 });
    expect(await stack.db.sendingLog.findFirst({ where: { deliveryId: handle.workflowId, email: `full@${D}` } }))
      .toMatchObject({ status: 'ignored', exclusionCause: 'quarantined since the preparation', softFailures: 1 });
    expect(await handle.query(exclusionsQuery)).toEqual({ toExclude: 2, byCause: { 'address in quarantine': 2 } });
    expect((await runCli(stack, ['exclusions', handle.workflowId])).stdout).toMatch(/address in quarantine +2\nTo exclude +2/);
    const excluded = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId, status: 'ignored' }, orderBy: { email: 'asc' } });
    expect(excluded.map((r) => [r.email, r.exclusionCause])).toEqual([
      [`full@${D}`, 'quarantined since the preparation'], [`policy@${D}`, 'address in quarantine'], [`unknown@${D}`, 'address in quarantine'],
    ]);
    expect(await stack.db.quarantine.findUnique({ where: { address: `full@${D}` } })).toMatchObject({ status: 'quarantined', failureType: 'soft' });

    const list = JSON.parse((await runCli(stack, ['quarantine', 'list', '--json'])).stdout) as Array<{ address: string }>;
    expect(list.map((r) => r.address).sort()).toEqual([`full@${D}`, `policy@${D}`, `unknown@${D}`]);
    const released = await runCli(stack, ['quarantine', 'release', `FULL@${D}`]);
    expect(released.stdout).toContain(`full@${D} released from quarantine`);
    const again = await runCli(stack, ['quarantine', 'release', `full@${D}`]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`full@${D} is not in quarantine`);
    expect((await stack.db.quarantine.findUnique({ where: { address: `full@${D}` } }))?.status).toBe('valid');
  });

  it('applies a DSN to the right message, its KPIs and the quarantine', async () => {
    await stack.db.profile.deleteMany();
    await seedProfiles(stack.db, [{ email: 'later-bounce@y.example' }, { email: 'delayed@y.example' }]);
    const handle = await stack.start(baseSpec({ name: 'Bounces', trackingHours: 0.05 }));
    await waitForState(handle, 'sent');
    const rows = new Map((await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId } })).map((r) => [r.email, r]));
    const bounced = rows.get('later-bounce@y.example')!;
    const delayed = rows.get('delayed@y.example')!;
    // The relay saw the signed VERP return path of each message
    const verp = stack.sink.messages.find((m) => m.to === bounced.email)!.from;
    expect(verp).toMatch(new RegExp(`^bounces\\+${bounced.id}-[0-9a-f]{24}@bounces\\.test$`));

    const messageIdOf = (to: string) => stack.sink.messages.find((m) => m.to === to)!.mail.messageId!; // as the relay received it
    const listener = await startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: stack.trackingSetup.secret, signalEveryMs: 500 });
    try {
      // a hard bounce, mapped by its VERP return path
      await sendRaw(listener.port, { from: '', to: verp }, dsn({
        to: verp, recipient: bounced.email, action: 'failed', status: '5.1.1',
        diagnostic: '550 5.1.1 user unknown', originalMessageId: messageIdOf(bounced.email),
      }));
      // a delay notice, mapped by the original Message-ID
      await sendRaw(listener.port, { from: '', to: 'postmaster@shop.example' }, dsn({
        to: 'postmaster@shop.example', recipient: delayed.email, action: 'delayed', status: '4.2.2',
        diagnostic: '452 4.2.2 mailbox full', originalMessageId: messageIdOf(delayed.email),
      }));
      // a DSN naming a message of another recipient changes nothing
      expect(await listener.handle(Buffer.from(dsn({
        to: 'postmaster@shop.example', recipient: 'someone-else@y.example', action: 'failed', status: '5.1.1',
        diagnostic: '550 5.1.1 user unknown', originalMessageId: messageIdOf(delayed.email),
      })), [])).toMatchObject({ code: 250, applied: [] });

      const until = Date.now() + 5000;
      while ((await handle.query(kpisQuery)).delivered !== 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(await handle.query(kpisQuery)).toMatchObject({ sent: 2, delivered: 1, failed: 1, pending: 0 });
      expect(await stack.db.sendingLog.findUnique({ where: { id: bounced.id } })).toMatchObject({
        status: 'failed', failureType: 'hard', reason: 'user unknown (5.1.1 550 5.1.1 user unknown)', bouncedAt: expect.any(Date),
      });
      expect(await stack.db.sendingLog.findUnique({ where: { id: delayed.id } })).toMatchObject({ status: 'sent', bouncedAt: null });
      expect(await stack.db.quarantine.findUnique({ where: { address: bounced.email } })).toMatchObject({ status: 'quarantined', failureType: 'hard' });
      expect(await stack.db.quarantine.findUnique({ where: { address: delayed.email } })).toMatchObject({ status: 'valid', failureType: 'soft', errorCount: 1 });
    } finally {
      await listener.close();
      await handle.cancel(); // ends the tracking period; the delivery stays sent
    }
    expect((await handle.result()).state).toBe('sent');
  });
});

describe('refusals for the sender and for the relay at RCPT TO', () => {
  const S = 'sender.example';
  const once = new Map<string, number>();
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      refuseRecipient: (address) => {
        // A relay that is the recipients' provider itself (Gmail as a relay) judges the sender's authentication at RCPT TO.
        if (address === `dmarc@${S}`) return { code: 550, message: '5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users' };
        once.set(address, (once.get(address) ?? 0) + 1);
        if (address === `later@${S}` && once.get(address) === 1) return { code: 451, message: '4.7.26 DMARC policy temporarily unavailable' };
        return undefined;
      },
    });
    await seedProfiles(stack.db, ['dmarc', 'later', 'ok1', 'ok2', 'ok3'].map((n) => ({ email: `${n}@${S}`, firstName: n })));
  });
  afterAll(async () => stack?.close());

  it('a refusal for the sender is counted and explained, retried when temporary, and never held against the address', async () => {
    const handle = await stack.start(baseSpec({ retries: { validitySeconds: 60, firstDelaySeconds: 1, maxDelaySeconds: 1 } }));
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ toDeliver: 5, sent: 4, failed: 1, pending: 0, senderRefusals: 2 });
    const rows = new Map((await stack.db.sendingLog.findMany()).map((r) => [r.email.split('@')[0], r]));
    expect(rows.get('dmarc')).toMatchObject({ status: 'failed', failureType: 'ignored', senderRefusedAt: expect.any(Date),
      reason: 'sender not authenticated (550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users)' });
    expect(rows.get('later')).toMatchObject({ status: 'sent', softFailures: 1, senderRefusedAt: expect.any(Date) });
    expect(await stack.db.quarantine.count()).toBe(0);
    expect(stack.sink.countByRecipient().get(`later@${S}`)).toBe(1);
    const logs = (await handle.query(logsQuery)).entries.map((e) => e.message);
    expect(logs.at(-1)).toBe('Delivery sent: 4 sent (80.0%); 1 error: sender not authenticated 1');
    expect((await runCli(stack, ['status', handle.workflowId])).stdout).toMatch(/Refused for the sender +2/);
  });
});
