// The ESPs' webhooks under attack during a real delivery: a forged event (wrong signature, key or credentials) for
// every message from each of the four ESPs while it sends, then the genuine complaints and bounces, each delivered
// three times (providers retry). Only the genuine events count, once each; nobody else is failed, opted out or
// quarantined.
import { snsFetcher } from '../../tracking/sns-fetch';
import {
  mailgunEvent, mailgunSignature, postmarkRecord, sendgridEvents, sendgridKeys, sesBounce, sesComplaint, startSnsStub, TOPIC_ARN,
} from '../helpers/esp-fixtures';
import { baseSpec, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import type { SinkMessage } from '../helpers/smtp-sink';
import { account } from './fault-table';

const RECIPIENTS = 120;
const MAILGUN_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const POSTMARK = 'postmark:correct-horse-battery-staple';
const complaining = (email: string) => /^user\d*3@/.test(email);
const bouncing = (email: string) => /^user\d*7@/.test(email);

describe('ESP webhooks from outside', () => {
  let stack: TestStack;
  let sns: Awaited<ReturnType<typeof startSnsStub>>;
  const sendgrid = sendgridKeys();
  const accepted: SinkMessage[] = [];
  beforeAll(async () => {
    sns = await startSnsStub();
    stack = await startTestStack({
      onAccepted: (m) => accepted.push(m),
      esp: {
        ses: { topicArns: [TOPIC_ARN], fetch: snsFetcher({ ca: sns.ca, connectTo: { host: '127.0.0.1', port: sns.port } }) },
        sendgrid: { publicKey: sendgrid.publicKey }, mailgun: { signingKey: MAILGUN_KEY }, postmark: { credentials: POSTMARK },
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await sns?.close();
  });

  const post = (esp: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.tracking.url}/esp/${esp}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } }).then((r) => r.status);
  const basic = (c: string) => ({ Authorization: `Basic ${Buffer.from(c).toString('base64')}` });
  const sgHeaders = (sign: (ts: string, b: string) => string, body: string) => {
    const ts = String(Math.floor(Date.now() / 1000));
    return { 'X-Twilio-Email-Event-Webhook-Timestamp': ts, 'X-Twilio-Email-Event-Webhook-Signature': sign(ts, body) };
  };

  /** One forged complaint per ESP about this message: each must be refused. */
  async function forge(m: SinkMessage): Promise<number[]> {
    const mid = m.mail.messageId!;
    const ses = sns.message('Notification', JSON.stringify(sesComplaint(mid, m.to)));
    const sg = JSON.stringify(sendgridEvents({ messageId: mid, email: m.to }, { ref: mid, email: m.to }, Math.floor(Date.now() / 1000)));
    return Promise.all([
      post('ses', JSON.stringify({ ...ses, Message: ses.Message.replace('abuse', 'fraud') })),
      post('sendgrid', sg, sgHeaders(sendgridKeys().sign, sg)),
      post('mailgun', JSON.stringify(mailgunEvent('complained', mid, m.to, mailgunSignature('guessed-key')))),
      post('postmark', JSON.stringify(postmarkRecord('SpamComplaint', mid, m.to)), basic('postmark:guessed')),
    ]);
  }

  /** The genuine event about this message, from the ESP its place picks, posted 3 times; the statuses. */
  async function genuine(m: SinkMessage, i: number): Promise<number[]> {
    const mid = m.mail.messageId!;
    const kind = complaining(m.to) ? 'complaint' : 'bounce';
    const send = [
      () => post('ses', JSON.stringify(sns.message('Notification', JSON.stringify(kind === 'complaint' ? sesComplaint(mid, m.to) : sesBounce(mid, m.to))))),
      () => {
        const all = sendgridEvents({ messageId: mid, email: m.to }, { ref: mid, email: m.to }, Math.floor(Date.now() / 1000));
        const body = JSON.stringify([kind === 'complaint' ? all[1] : all[0]]);
        return post('sendgrid', body, sgHeaders(sendgrid.sign, body));
      },
      // Mailgun signs each delivery attempt anew: a retry carries a new token.
      () => post('mailgun', JSON.stringify(mailgunEvent(kind === 'complaint' ? 'complained' : 'failed', mid, m.to, mailgunSignature(MAILGUN_KEY)))),
      () => post('postmark', JSON.stringify(postmarkRecord(kind === 'complaint' ? 'SpamComplaint' : 'Bounce', mid, m.to)), basic(POSTMARK)),
    ][i % 4];
    return [await send(), await send(), await send()];
  }

  it('forged events for every message from each ESP, genuine ones delivered 3×: only the genuine count, once', async () => {
    await seedProfiles(stack.db, manyProfiles(RECIPIENTS, 'inbound.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 40, trackingHours: 1 }));
    // The attacker, while the delivery sends: a forged complaint from each ESP for every message accepted so far.
    const refused: number[] = [];
    for (let done = 0; done < RECIPIENTS;) {
      if (accepted.length > done) refused.push(...(await forge(accepted[done++])));
      else await new Promise((r) => setTimeout(r, 20));
    }
    const real = accepted.filter((m) => complaining(m.to) || bouncing(m.to));
    const statuses = (await Promise.all(real.map(genuine))).flat();
    expect(refused).toHaveLength(4 * RECIPIENTS);
    expect(refused.every((s) => s === 401)).toBe(true);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId } });
    expect(rows.filter((r) => r.complainedAt).map((r) => r.email).sort()).toEqual(rows.filter((r) => complaining(r.email)).map((r) => r.email).sort());
    expect(rows.filter((r) => r.status === 'failed').map((r) => r.email).sort()).toEqual(rows.filter((r) => bouncing(r.email)).map((r) => r.email).sort());
    const optedOut = await stack.db.optOut.findMany();
    expect(optedOut.map((o) => o.address).sort()).toEqual(rows.filter((r) => complaining(r.email)).map((r) => r.email).sort());
    const quarantined = await stack.db.quarantine.findMany({ where: { status: 'quarantined' } });
    expect(quarantined.every((q) => q.errorCount === 1)).toBe(true); // 3 deliveries of a bounce: one error
    const row = await account(stack, handle.workflowId,
      `ESP webhooks: ${refused.length} forged (4 ESPs × every message, while sending), ${real.length} genuine complaints and bounces each delivered 3×`, refused.length, bouncing);
    expect(row).toMatchObject({ recipients: RECIPIENTS, received: RECIPIENTS, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
    await handle.cancel();
  });
});
