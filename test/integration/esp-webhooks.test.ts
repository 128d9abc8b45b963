// The ESPs' event webhooks through the real tracking server and database, with the providers' documented payloads:
// for each of Amazon SES (through SNS, its certificate served by a local HTTPS stand-in for sns.<region>.amazonaws.com),
// SendGrid, Mailgun and Postmark, a valid event applies once (also when replayed), and a forged, stale or oversized
// request answers 4xx and changes nothing.
import { snsFetcher } from '../../tracking/sns-fetch';
import { kpisQuery } from '../../workflows/messages';
import {
  mailgunEvent, mailgunSignature, postmarkRecord, sendgridEvents, sendgridKeys, sesBounce, sesComplaint, startSnsStub, TOPIC_ARN,
} from '../helpers/esp-fixtures';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

const MAILGUN_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const POSTMARK = 'postmark:correct-horse-battery-staple';
const MAX_BYTES = 64 * 1024;

describe('ESP event webhooks', () => {
  let stack: TestStack;
  let sns: Awaited<ReturnType<typeof startSnsStub>>;
  const sendgrid = sendgridKeys();
  beforeAll(async () => {
    sns = await startSnsStub();
    stack = await startTestStack({
      relayEsp: 'sendgrid',
      esp: {
        ses: { topicArns: [TOPIC_ARN], fetch: snsFetcher({ ca: sns.ca, connectTo: { host: '127.0.0.1', port: sns.port } }) },
        sendgrid: { publicKey: sendgrid.publicKey }, mailgun: { signingKey: MAILGUN_KEY }, postmark: { credentials: POSTMARK }, maxBytes: MAX_BYTES,
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await sns?.close();
  });
  beforeEach(async () => {
    await clearData(stack);
    await stack.db.optOut.deleteMany();
    await stack.db.quarantine.deleteMany();
  });

  /** A delivery to 3 recipients, sent and collecting feedback; each one's Message-ID as sent. */
  async function sent() {
    await seedProfiles(stack.db, manyProfiles(3));
    const handle = await stack.start(baseSpec({ trackingHours: 1 }));
    await waitForState(handle, 'sent');
    const messageId = (email: string) => stack.sink.messages.find((m) => m.to === email)!.mail.messageId!;
    return { handle, messageId };
  }
  const post = (esp: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.tracking.url}/esp/${esp}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
  /** What the webhooks can change: the sending logs' outcomes, opt-outs and the quarantine. */
  const state = async () => JSON.stringify([
    await stack.db.sendingLog.findMany({ orderBy: { id: 'asc' }, select: { email: true, status: true, reason: true, bouncedAt: true, complainedAt: true } }),
    await stack.db.optOut.findMany({ orderBy: { address: 'asc' } }),
    await stack.db.quarantine.findMany({ orderBy: { address: 'asc' } }),
  ]);
  /** user1 complained, user2 bounced for good (user unknown, quarantined), user3 untouched; the KPIs say so. */
  async function expectApplied(handle: Awaited<ReturnType<typeof sent>>['handle']) {
    const rows = await stack.db.sendingLog.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.email, r.status, r.complainedAt !== null, r.bouncedAt !== null])).toEqual([
      ['user1@example.com', 'sent', true, false], ['user2@example.com', 'failed', false, true], ['user3@example.com', 'sent', false, false],
    ]);
    expect(rows[1].reason).toMatch(/user unknown/);
    expect((await stack.db.optOut.findMany()).map((o) => [o.address, o.source])).toEqual([['user1@example.com', 'complaint']]);
    // One bounce, however often its event came: one error on the address.
    expect((await stack.db.quarantine.findMany({ where: { status: 'quarantined' } })).map((q) => [q.address, q.errorCount])).toEqual([['user2@example.com', 1]]);
    await eventually(async () => { const k = await handle.query(kpisQuery); return k.complaints === 1 && k.failed === 1; }, 30_000, 'KPIs moved');
    await handle.cancel();
  }

  it('Amazon SES through SNS: subscription confirmed, v1 and v2 signatures, replay counted once; forged, foreign, stale, oversized refused', async () => {
    const { handle, messageId } = await sent();
    const confirm = await post('ses', JSON.stringify(sns.message('SubscriptionConfirmation', 'You have chosen to subscribe')));
    expect(confirm.status).toBe(200);
    expect(sns.confirmations).toHaveLength(1);

    const before = await state();
    const complaint = sns.message('Notification', JSON.stringify(sesComplaint(messageId('user1@example.com'), 'user1@example.com')), { version: '1' });
    const forged = { ...complaint, Message: complaint.Message.replace('abuse', 'fraud') };
    const foreignCert = sns.message('Notification', complaint.Message, { certUrl: 'https://evil.example/SimpleNotificationService-test.pem' });
    const stale = sns.message('Notification', complaint.Message, { timestamp: new Date(Date.now() - 2 * 3600_000) });
    const foreignTopic = { ...complaint, TopicArn: 'arn:aws:sns:us-east-1:999999999999:attacker' };
    for (const m of [forged, foreignCert, stale, foreignTopic]) expect((await post('ses', JSON.stringify(m))).status).toBe(401);
    expect((await post('ses', 'x'.repeat(MAX_BYTES + 1))).status).toBe(413);
    expect(await state()).toBe(before);

    const bounce = sns.message('Notification', JSON.stringify(sesBounce(messageId('user2@example.com'), 'user2@example.com')), { version: '2' });
    for (const m of [complaint, bounce, complaint, bounce]) expect((await post('ses', JSON.stringify(m))).status).toBe(200);
    await expectApplied(handle);
  });

  it('SendGrid: ECDSA-signed events apply once, replayed too; forged, stale, oversized refused', async () => {
    const { handle, messageId } = await sent();
    // The message was tagged for SendGrid when sent (RELAY_ESP): its unique arg carries our Message-ID.
    const tagged = stack.sink.messages.find((m) => m.to === 'user1@example.com')!;
    const ref = (JSON.parse(String(tagged.mail.headers.get('x-smtpapi'))) as { unique_args: Record<string, string> }).unique_args['delivery-ref'];
    expect(ref).toBe(messageId('user1@example.com'));
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify(sendgridEvents({ messageId: messageId('user2@example.com'), email: 'user2@example.com' }, { ref, email: 'user1@example.com' }, now));
    const signed = (ts: number, b: string) => ({ 'X-Twilio-Email-Event-Webhook-Timestamp': String(ts), 'X-Twilio-Email-Event-Webhook-Signature': sendgrid.sign(String(ts), b) });

    const before = await state();
    expect((await post('sendgrid', body.replace('5.1.1', '4.2.2'), signed(now, body))).status).toBe(401); // altered after signing
    expect((await post('sendgrid', body, signed(now - 3600, body))).status).toBe(401); // stale
    expect((await post('sendgrid', body, { 'X-Twilio-Email-Event-Webhook-Timestamp': String(now), 'X-Twilio-Email-Event-Webhook-Signature': sendgridKeys().sign(String(now), body) })).status).toBe(401);
    const big = JSON.stringify([{ padding: 'x'.repeat(MAX_BYTES) }]);
    expect((await post('sendgrid', big, signed(now, big))).status).toBe(413);
    expect(await state()).toBe(before);

    for (let i = 0; i < 2; i++) expect((await post('sendgrid', body, signed(now, body))).status).toBe(200);
    await expectApplied(handle);
  });

  it('Mailgun: HMAC-signed events apply once, a replayed token is refused; forged, stale, oversized refused', async () => {
    const { handle, messageId } = await sent();
    const failed = JSON.stringify(mailgunEvent('failed', messageId('user2@example.com'), 'user2@example.com', mailgunSignature(MAILGUN_KEY)));
    const complained = JSON.stringify(mailgunEvent('complained', messageId('user1@example.com'), 'user1@example.com', mailgunSignature(MAILGUN_KEY)));

    const before = await state();
    const forged = JSON.stringify(mailgunEvent('complained', messageId('user3@example.com'), 'user3@example.com', mailgunSignature('not-the-key')));
    const stale = JSON.stringify(mailgunEvent('complained', messageId('user3@example.com'), 'user3@example.com', mailgunSignature(MAILGUN_KEY, Math.floor(Date.now() / 1000) - 3600)));
    for (const b of [forged, stale]) expect((await post('mailgun', b)).status).toBe(401);
    expect((await post('mailgun', JSON.stringify({ pad: 'x'.repeat(MAX_BYTES) }))).status).toBe(413);
    expect(await state()).toBe(before);

    expect((await post('mailgun', failed)).status).toBe(200);
    expect((await post('mailgun', complained)).status).toBe(200);
    const applied = await state();
    for (const b of [failed, complained]) expect((await post('mailgun', b)).status).toBe(401); // the same tokens again
    expect(await state()).toBe(applied);
    await expectApplied(handle);
  });

  it('Postmark: basic-auth webhooks apply once, replayed too; wrong or missing credentials, oversized refused', async () => {
    const { handle, messageId } = await sent();
    const auth = (c: string) => ({ Authorization: `Basic ${Buffer.from(c).toString('base64')}` });
    const bounce = JSON.stringify(postmarkRecord('Bounce', messageId('user2@example.com'), 'user2@example.com'));
    const spam = JSON.stringify(postmarkRecord('SpamComplaint', messageId('user1@example.com'), 'user1@example.com'));

    const before = await state();
    expect((await post('postmark', spam)).status).toBe(401);
    expect((await post('postmark', spam, auth('postmark:guessed-password'))).status).toBe(401);
    expect((await post('postmark', JSON.stringify({ pad: 'x'.repeat(MAX_BYTES) }), auth(POSTMARK))).status).toBe(413);
    expect(await state()).toBe(before);

    for (const b of [bounce, spam, bounce, spam]) expect((await post('postmark', b, auth(POSTMARK))).status).toBe(200);
    await expectApplied(handle);
  });

  it('an event naming a message that is not ours (a guessed or unsigned Message-ID) changes nothing', async () => {
    const { handle, messageId } = await sent();
    const before = await state();
    const guessed = messageId('user1@example.com').replace(/\.([0-9a-f])/, (_, c: string) => `.${c === '0' ? '1' : '0'}`);
    const res = await post('postmark', JSON.stringify(postmarkRecord('SpamComplaint', guessed, 'user1@example.com')), { Authorization: `Basic ${Buffer.from(POSTMARK).toString('base64')}` });
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text())).toMatchObject({ applied: 0, notOurs: 1 });
    expect(await state()).toBe(before);
    await handle.cancel();
  });
});
