// Rotating the signing secret (TRACKING_SECRET="new,old"): links, return paths and Message-IDs of messages sent
// before keep working while the new secret signs what is sent after; once the old secret is dropped, what it signed
// is refused like a forgery. Real tracking servers and bounce listeners, restarted with each list, as ops would.
import { randomBytes } from 'node:crypto';
import { freePort } from '../../stack/dev-server';
import { startTrackingServer, type TrackingServer } from '../../tracking/server';
import { startBounceListener } from '../../worker/bounce-listener';
import { dsn, sendRaw } from '../helpers/dsn';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import type { SinkMessage } from '../helpers/smtp-sink';
import { account } from './fault-table';

const HTML = '<p>Hi {{firstName}}</p><a href="https://shop.example/sale">Sale</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>';
const RECIPIENTS = 30;
const linkOf = (m: SinkMessage) => /href="([^"]+\/c\/[^"]+)"/.exec(String(m.mail.html))![1];

describe('signing secret rotation', () => {
  let stack: TestStack;
  const servers: TrackingServer[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ bounceDomain: 'bounces.test' });
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await stack?.close();
  });

  /** A tracking server as ops restart it with TRACKING_SECRET = the list (on the public base URL's port). */
  const trackingWith = async (secrets: string[]) => {
    const port = await freePort();
    const server = await startTrackingServer({ db: stack.db, tracking: { baseUrl: `http://127.0.0.1:${port}`, secret: secrets[0], verifyWith: secrets }, port, requestsPerSecond: 100_000 });
    servers.push(server);
    return (link: string) => fetch(link.replace(stack.trackingSetup.baseUrl, server.url), { redirect: 'manual' }).then((r) => r.status);
  };
  const bouncesWith = (secrets: string[]) => startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: secrets, signalEveryMs: 500 });
  const bounce = (m: SinkMessage, port: number) => sendRaw(port, { from: '', to: m.from }, dsn({
    to: m.from, recipient: m.to, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: m.mail.messageId!,
  })).then(() => 250, (e: { responseCode?: number }) => e.responseCode ?? 0);

  it('keeps what the old secret signed working during the rotation, and refuses it once the old secret is dropped', async () => {
    const OLD = stack.trackingSetup.secret;
    const NEW = randomBytes(32).toString('hex');
    await seedProfiles(stack.db, manyProfiles(RECIPIENTS, 'rotation.example'));
    const before = await stack.start(baseSpec({ name: 'Before the rotation', html: HTML }));
    await before.result();
    const sentBefore = stack.sink.messages.slice();
    expect(sentBefore).toHaveLength(RECIPIENTS);

    // The rotation: workers, tracking servers and bounce listeners restarted with TRACKING_SECRET="NEW,OLD".
    await stack.stopWorker();
    Object.assign(stack.trackingSetup, { secret: NEW, verifyWith: [NEW, OLD] });
    await stack.startWorker();
    const during = await trackingWith([NEW, OLD]);
    const listener = await bouncesWith([NEW, OLD]);
    stack.sink.messages.length = 0;
    const after = await stack.start(baseSpec({ name: 'After the rotation', html: HTML }));
    await after.result();
    const sentAfter = stack.sink.messages.slice();

    // Every old link still redirects (and counts), every new one too; old return paths still name their message.
    for (const m of [...sentBefore, ...sentAfter]) expect(await during(linkOf(m))).toBe(302);
    await eventually(async () => (await stack.db.trackingEvent.count({ where: { kind: 'click' } })) === 2 * RECIPIENTS, 10_000, 'every click recorded');
    expect(await bounce(sentBefore[0], listener.port)).toBe(250);
    expect(await bounce(sentAfter[0], listener.port)).toBe(250);
    // What the new secret signs is not what the old one did.
    expect(sentAfter.every((m) => !sentBefore.some((b) => linkOf(b) === linkOf(m)))).toBe(true);
    await listener.close();

    // The old secret dropped (after the tracking period and the bounces): what it signed is refused, the rest works.
    const onlyNew = await trackingWith([NEW]);
    const strict = await bouncesWith([NEW]);
    expect(await onlyNew(linkOf(sentBefore[1]))).toBe(400);
    expect(await onlyNew(linkOf(sentAfter[1]))).toBe(302);
    expect(await bounce(sentBefore[1], strict.port)).toBe(550);
    expect(await bounce(sentAfter[1], strict.port)).toBe(250);
    await strict.close();

    const rows = await stack.db.sendingLog.findMany({ where: { status: 'failed' }, select: { email: true } });
    expect(rows.map((r) => r.email).sort()).toEqual([sentBefore[0].to, sentAfter[0].to, sentAfter[1].to].sort());
    const bounced = new Set(rows.map((r) => r.email));
    const row = await account(stack, after.workflowId, 'signing secret rotated between two deliveries (new,old), then the old one dropped: old links and DSNs honoured, then refused', 1, (e) => bounced.has(e));
    expect(row).toMatchObject({ recipients: RECIPIENTS, received: RECIPIENTS, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });
});
