// DSNs from outside during a real delivery: a relay that bounces some recipients within milliseconds of its
// 250 (before their outcome is recorded), every genuine DSN replayed, and an attacker who forges a DSN for
// every message (guessed VERP ids and guessed Message-IDs, each with the right recipient). Only the genuine
// bounces count, once each.
import { dsn, sendRaw } from '../helpers/dsn';
import { baseSpec, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
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
  beforeAll(async () => {
    stack = await startTestStack({ bounceDomain: 'bounces.test', onAccepted: (m) => bounceAtOnce(m) });
    listener = await startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: stack.trackingSetup.secret, signalEveryMs: 500 });
  });
  afterAll(async () => {
    await listener?.close();
    await stack?.close();
  });

  function bounceAtOnce(m: SinkMessage) {
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
    let forged = 0;
    let refused = 0;
    for (let id = firstId; id < firstId + RECIPIENTS; id++) {
      const email = `user${id - firstId + 1}@inbound.example`;
      for (const [to, messageId] of [[`bounces+${id}@bounces.test`, '<x@y>'], ['postmaster@bounces.test', `<${handle.workflowId}.${id}@shop.example>`]]) {
        forged++;
        await sendRaw(listener.port, { from: '', to }, dsn({ to, recipient: email, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: messageId }))
          .catch((e: { responseCode?: number }) => (e.responseCode && e.responseCode >= 500 ? refused++ : undefined));
      }
    }
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
});

/** The first sending log id of the delivery, once its preparation wrote the rows. */
async function eventuallyFirstId(stack: TestStack, deliveryId: string): Promise<number> {
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const first = await stack.db.sendingLog.findFirst({ where: { deliveryId }, orderBy: { id: 'asc' } });
    if (first) return first.id;
  }
  throw new Error('the preparation wrote no sending log');
}
