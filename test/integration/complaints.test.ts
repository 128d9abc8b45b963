// Spam complaints (ARF feedback-loop reports, RFC 5965) from a real mail flow: a private Postfix hands the reports to
// the bounce listener, as a site's MX would. A genuine report opts the address out and moves the Complaints KPI once
// however often it comes; a forged one is refused and changes nothing. The complaint breaker pauses a delivery whose
// complaint rate passes the spec's limit, with the cause in its status, and resume goes on.
import { arf, sendRaw } from '../helpers/dsn';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import type { SinkMessage } from '../helpers/smtp-sink';
import { startPostfixRelay, type PostfixRelay } from '../helpers/postfix';
import { startBounceListener, type BounceListener } from '../../worker/bounce-listener';
import { kpisQuery, resumeSignal, statusQuery } from '../../workflows/messages';

/** The reported message's headers, as the mailbox provider encloses them (what the relay delivered). */
const headersOf = (m: SinkMessage) => m.raw.toString('utf8').split('\r\n\r\n')[0];

describe('spam complaints', () => {
  let stack: TestStack;
  let listener: BounceListener;
  let postfix: PostfixRelay;
  beforeAll(async () => {
    stack = await startTestStack({ bounceDomain: 'bounces.test' });
    listener = await startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: stack.trackingSetup.secret, signalEveryMs: 500 });
    postfix = await startPostfixRelay({ host: '127.0.0.1', port: listener.port });
  });
  afterAll(async () => {
    await postfix?.stop();
    await listener?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    await clearData(stack);
    await stack.db.optOut.deleteMany();
  });

  it('through Postfix: a genuine ARF report opts out and counts once, a forged one is refused and changes nothing', async () => {
    await seedProfiles(stack.db, manyProfiles(10));
    const handle = await stack.start(baseSpec({ trackingHours: 1 }));
    await waitForState(handle, 'sent');
    const reported = stack.sink.messages.find((m) => m.to === 'user3@example.com')!;
    const other = stack.sink.messages.find((m) => m.to === 'user4@example.com')!;
    const report = arf({ to: 'fbl@bounces.test', originalMailFrom: reported.from, originalRcptTo: reported.to, originalHeaders: headersOf(reported) });
    // Forged: the other recipient's Message-ID with its signature altered, no return path of ours.
    const forgedHeaders = headersOf(other).replace(/^Message-ID: <(\d+)\.([0-9a-f])/im, (_, id: string, c: string) => `Message-ID: <${id}.${c === '0' ? '1' : '0'}`);
    const forged = arf({ to: 'fbl@bounces.test', originalRcptTo: other.to, originalHeaders: forgedHeaders });

    for (const raw of [report, forged, report, report]) await sendRaw(postfix.port, { from: '', to: 'fbl@bounces.test' }, raw);
    await eventually(() => (postfix.log().match(/status=(sent|bounced)/g) ?? []).length >= 4, 60_000, 'Postfix handed on the 4 reports');
    expect(postfix.log()).toMatch(/status=bounced .*550 5\.7\.1 Not a report about a message sent from here/);
    expect(postfix.log().match(/status=sent .*250 2\.0\.0 Complaint applied/g)).toHaveLength(1);
    expect(postfix.log().match(/status=sent .*250 2\.0\.0 Accepted \(already counted/g)).toHaveLength(2);

    expect(await stack.db.optOut.findMany({ select: { address: true, source: true, deliveryId: true } }))
      .toEqual([{ address: 'user3@example.com', source: 'complaint', deliveryId: handle.workflowId }]);
    const logs = await stack.db.sendingLog.findMany({ where: { complainedAt: { not: null } } });
    expect(logs.map((l) => l.email)).toEqual(['user3@example.com']);
    await eventually(async () => (await handle.query(kpisQuery)).complaints === 1, 30_000, 'Complaints KPI at 1');
    expect(await handle.query(kpisQuery)).toMatchObject({ complaints: 1, complaintRate: 10, delivered: 10 });
    await handle.cancel();
  });

  it('the breaker pauses a delivery whose complaint rate passes the limit, with the cause; resume goes on to the end', async () => {
    await seedProfiles(stack.db, manyProfiles(100));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 5, complaintGuard: { maxComplaintRate: 0.02 } }));
    await eventually(() => stack.sink.messages.length >= 10, 60_000, '10 messages sent');
    for (const m of stack.sink.messages.slice(0, 8)) {
      const verdict = await listener.handle(Buffer.from(arf({ to: 'fbl@bounces.test', originalRcptTo: m.to, originalHeaders: headersOf(m) })), [m.from]);
      expect(verdict.code).toBe(250);
    }
    await waitForState(handle, 'paused', 30_000);
    const status = await handle.query(statusQuery);
    // The delivery's breaker or its sender domain's (the same complaints): whichever judged first.
    expect(status.pausedBecause).toMatch(/^spam complaints (on shop\.example )?reached [\d.]+% of (its )?delivered.* \(8 of \d+(, over 1 delivery)?\), above the limit of 2%/);
    const sentWhenPaused = (await handle.query(kpisQuery)).sent;
    expect(sentWhenPaused).toBeLessThan(100);

    await handle.signal(resumeSignal);
    const result = await handle.result();
    // Ops accepted the 8 complaints: the breaker judges only what comes after, and the rest is sent once each.
    expect(result.kpis).toMatchObject({ sent: 100, complaints: 8 });
    expect(new Set(stack.sink.messages.map((m) => m.to)).size).toBe(100);
    expect(stack.sink.messages).toHaveLength(100);
  });

  it('the sender domain\'s breaker: complaints on one delivery pause the next from that domain, not another domain\'s', async () => {
    await seedProfiles(stack.db, manyProfiles(10));
    const first = await stack.start(baseSpec());
    await first.result();
    for (const m of stack.sink.messages.slice(0, 5)) {
      expect((await listener.handle(Buffer.from(arf({ to: 'fbl@bounces.test', originalRcptTo: m.to, originalHeaders: headersOf(m) })), [m.from])).code).toBe(250);
    }
    const sameDomain = await stack.start(baseSpec({ name: 'Same domain', messagesPerSecond: 5 }));
    const otherDomain = await stack.start(baseSpec({ name: 'Other domain', from: 'Club <news@club.example>' }));
    await waitForState(sameDomain, 'paused', 30_000);
    expect((await sameDomain.query(statusQuery)).pausedBecause)
      .toMatch(/^spam complaints on shop\.example reached [\d.]+% of its delivered mail of the last 24 h \(5 of \d+, over [12] deliver(y|ies)\), above the limit of 0\.3%/);
    // The other domain's delivery sends to the end (the 5 who complained are opted out, so excluded everywhere).
    expect((await otherDomain.result()).kpis).toMatchObject({ sent: 5, toExclude: 5 });

    // Resuming accepts the domain's complaints so far: the delivery goes on to the end.
    await sameDomain.signal(resumeSignal);
    expect((await sameDomain.result()).kpis).toMatchObject({ sent: 5, toExclude: 5, complaints: 0 });
  });
});
