// DSNs from outside during a real delivery: a relay that bounces some recipients within milliseconds of its
// 250 (before their outcome is recorded), every genuine DSN replayed, and an attacker who forges a DSN for
// every message (guessed VERP ids and guessed Message-IDs, each with the right recipient). Only the genuine
// bounces count, once each.
import { arf, dsn, sendManyRaw, sendRaw } from '../helpers/dsn';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { kpisQuery, statusQuery } from '../../workflows/messages';
import type { SinkMessage } from '../helpers/smtp-sink';
import { startBounceListener, type BounceListener } from '../../worker/bounce-listener';
import { account } from './fault-table';

const RECIPIENTS = 120;
const bouncing = (email: string) => /^user\d*7@/.test(email); // user7, user17, … : the relay bounces them at once

describe('bounces from outside', () => {
  let stack: TestStack;
  let listener: BounceListener;
  const genuine: Array<{ to: string; raw: string }> = [];
  const applied: Array<Promise<void>> = [];
  const accepted: SinkMessage[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ bounceDomain: 'bounces.test', onAccepted: (m) => bounceAtOnce(m) });
    listener = await startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: stack.trackingSetup.secret, signalEveryMs: 500 });
  });
  afterAll(async () => {
    await listener?.close();
    await stack?.close();
  });

  function bounceAtOnce(m: SinkMessage) {
    if (m.to.endsWith('@dmarc.example')) return refuseSender(m);
    if (m.to.endsWith('@complaints.example')) return void accepted.push(m);
    if (!bouncing(m.to)) return;
    const raw = dsn({ to: m.from, recipient: m.to, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: m.mail.messageId! });
    genuine.push({ to: m.from, raw });
    applied.push(sendRaw(listener.port, { from: '', to: m.from }, raw));
  }

  it('forged DSNs for every message and genuine ones replayed: only the genuine bounces count, once', async () => {
    await seedProfiles(stack.db, manyProfiles(RECIPIENTS, 'inbound.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }));
    // The attacker, while the delivery sends: one forged DSN per sending log id, by VERP and by Message-ID.
    const firstId = await eventuallyFirstId(stack, handle.workflowId);
    const forgeries = [];
    for (let id = firstId; id < firstId + RECIPIENTS; id++) {
      const email = `user${id - firstId + 1}@inbound.example`;
      for (const [to, messageId] of [[`bounces+${id}@bounces.test`, '<x@y>'], ['postmaster@bounces.test', `<${handle.workflowId}.${id}@shop.example>`]]) {
        forgeries.push({ envelope: { from: '', to }, raw: dsn({ to, recipient: email, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: messageId }) });
      }
    }
    const forged = forgeries.length;
    const refused = await sendManyRaw(listener.port, forgeries);
    const { kpis } = await handle.result();
    await Promise.all(applied); // each genuine DSN was answered 250 (a 451 would have failed it)
    for (const { to, raw } of genuine) await sendRaw(listener.port, { from: '', to }, raw); // replayed…
    for (const { to, raw } of genuine) await sendRaw(listener.port, { from: '', to }, raw); // …twice

    const bounced = manyProfiles(RECIPIENTS, 'inbound.example').filter((p) => bouncing(p.email)).length;
    expect(genuine).toHaveLength(bounced);
    expect(refused).toBe(forged);
    expect(kpis).toMatchObject({ sent: RECIPIENTS, pending: 0 });
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId } });
    expect(rows.filter((r) => r.status === 'failed').map((r) => r.email).sort()).toEqual(rows.filter((r) => bouncing(r.email)).map((r) => r.email).sort());
    const quarantined = await stack.db.quarantine.findMany({ where: { status: 'quarantined' } });
    expect(quarantined).toHaveLength(bounced);
    expect(quarantined.every((q) => q.errorCount === 1)).toBe(true); // each bounce counted once, replays or not
    const row = await account(stack, handle.workflowId, `DSNs: ${forged} forged (guessed ids), ${bounced} genuine within ms of the 250, each replayed 2×`, forged, bouncing);
    expect(row).toMatchObject({ recipients: RECIPIENTS, received: RECIPIENTS, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });

  /** The recipient's server refuses every message of the sender: its domain fails DMARC (Gmail's reply). */
  function refuseSender(m: SinkMessage) {
    const raw = dsn({
      to: m.from, recipient: m.to, action: 'failed', status: '5.7.26', originalMessageId: m.mail.messageId!,
      diagnostic: '550-5.7.26 Unauthenticated email from shop.example is not accepted due to domain\'s DMARC policy.',
    });
    applied.push(sendRaw(listener.port, { from: '', to: m.from }, raw));
  }

  it('DSNs refusing the sender (DMARC 5.7.26): counted, never a quarantine, and the guard pauses the delivery', async () => {
    const RECIPIENTS_OF_SENDER = 400;
    await clearData(stack);
    await stack.db.quarantine.deleteMany();
    await seedProfiles(stack.db, manyProfiles(RECIPIENTS_OF_SENDER, 'dmarc.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }));
    await waitForState(handle, 'paused', 60_000);
    const { pausedBecause } = await handle.query(statusQuery);
    expect(pausedBecause).toMatch(/^failures reached \d+\.\d% of the last \d+ messages, above the guard's 10% \(sender not authenticated \d+\): the receiving servers refuse the sender; publish SPF, DKIM and DMARC/);
    await Promise.all(applied.splice(0));
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId } });
    const refused = rows.filter((r) => r.status === 'failed');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.failureType === 'ignored' && r.senderRefusedAt !== null && r.reason?.startsWith('sender not authenticated (5.7.26'))).toBe(true);
    expect(rows.filter((r) => r.sentAt !== null).length).toBeLessThan(RECIPIENTS_OF_SENDER / 2); // paused early, not at the end of the list
    expect(await stack.db.quarantine.count({ where: { address: { endsWith: '@dmarc.example' } } })).toBe(0);
    await eventually(async () => (await handle.query(kpisQuery)).senderRefusals === refused.length, 15_000, 'the KPI of refusals for the sender');
    await handle.cancel();
    await waitForState(handle, 'stopped');
    const failed = new Set(refused.map((r) => r.email));
    const row = await account(stack, handle.workflowId, `DSNs refusing the sender (DMARC 5.7.26) for every message: paused after ${rows.filter((r) => r.sentAt !== null).length} of ${RECIPIENTS_OF_SENDER}, none quarantined`, refused.length, (e) => failed.has(e));
    expect(row).toMatchObject({ lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });

  it('ARF reports: forged for every message, genuine ones replayed: only the genuine complaints count, once each', async () => {
    const COMPLAINERS = 120;
    await clearData(stack);
    await stack.db.optOut.deleteMany();
    accepted.splice(0);
    await seedProfiles(stack.db, manyProfiles(COMPLAINERS, 'complaints.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }));
    const { kpis } = await handle.result();
    const headersOf = (m: SinkMessage) => m.raw.toString('utf8').split('\r\n\r\n')[0];
    const complaining = (email: string) => /^user\d*3@/.test(email);
    // The attacker: each message's own headers with its signed Message-ID altered, no return path of ours.
    const forgeries = accepted.map((m) => {
      const altered = headersOf(m).replace(/^Message-ID: <(\d+)\.([0-9a-f])/im, (_, id: string, c: string) => `Message-ID: <${id}.${c === '0' ? '1' : '0'}`);
      return { envelope: { from: '', to: 'fbl@bounces.test' }, raw: arf({ to: 'fbl@bounces.test', originalRcptTo: m.to, originalHeaders: altered }) };
    });
    const forged = forgeries.length;
    const refused = await sendManyRaw(listener.port, forgeries);
    const genuine = accepted.filter((m) => complaining(m.to));
    for (let replay = 0; replay < 3; replay++) {
      for (const m of genuine) await sendRaw(listener.port, { from: '', to: m.from }, arf({ to: m.from, originalMailFrom: m.from, originalRcptTo: m.to, originalHeaders: headersOf(m) }));
    }
    expect(kpis).toMatchObject({ sent: COMPLAINERS, pending: 0 });
    expect(refused).toBe(forged);
    const complained = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId, complainedAt: { not: null } } });
    expect(complained.map((r) => r.email).sort()).toEqual(genuine.map((m) => m.to).sort());
    const optedOut = await stack.db.optOut.findMany();
    expect(optedOut.map((o) => o.address).sort()).toEqual(genuine.map((m) => m.to).sort());
    expect(optedOut.every((o) => o.source === 'complaint')).toBe(true);
    const row = await account(stack, handle.workflowId, `ARF complaints: ${forged} forged (altered Message-ID), ${genuine.length} genuine each replayed 2×`, forged);
    expect(row).toMatchObject({ recipients: COMPLAINERS, received: COMPLAINERS, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });
});

/** The first sending log id of the delivery, once its preparation wrote the rows. */
async function eventuallyFirstId(stack: TestStack, deliveryId: string): Promise<number> {
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const first = await stack.db.sendingLog.findFirst({ where: { deliveryId }, orderBy: { id: 'asc' } });
    if (first) return first.id;
  }
  throw new Error('the preparation wrote no sending log');
}
