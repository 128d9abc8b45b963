// The tracking server as deployed: behind an HTTPS proxy (TRUST_PROXY), read by mailbox providers that fetch pixels
// and post one-click unsubscribes for many recipients from a few addresses, and answering while Temporal is down.
import { spawn } from 'node:child_process';
import { kpisQuery } from '../../workflows/messages';
import { freePort } from '../../stack/dev-server';
import { startTrackingServer, type TrackingServer, type TrackingServerOptions } from '../../tracking/server';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import type { SinkMessage } from '../helpers/smtp-sink';
import { ROOT, TRACKING_PROCESS } from '../helpers/paths';

const HTML = '<p>Hi {{firstName}}</p><a href="https://shop.example/sale">Sale</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a>';
const PEOPLE = 300;
const clickOf = (m: SinkMessage) => /href="([^"]+\/c\/[^"]+)"/.exec(String(m.mail.html))![1];
const pixelOf = (m: SinkMessage) => /<img src="([^"]+)"/.exec(String(m.mail.html))![1];
const unsubscribeOf = (m: SinkMessage) => /href="([^"]+\/u\/[^"]+)"/.exec(String(m.mail.html))![1];

describe('tracking behind a proxy, under mailbox providers, and while Temporal is down', () => {
  let stack: TestStack;
  let messages: SinkMessage[];
  let deliveryId: string;
  const servers: TrackingServer[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ persistentServer: true });
    await seedProfiles(stack.db, manyProfiles(PEOPLE, 'proxy.example'));
    const handle = await stack.start(baseSpec({ html: HTML, trackingHours: 1 }));
    deliveryId = handle.workflowId;
    await waitForState(handle, 'sent', 60_000);
    messages = stack.sink.messages.slice();
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.close();
    await stack?.close();
  });

  /** A tracking server limited to 5 requests/s per client (burst 20), as a real one under load would be. */
  const server = async (extra: Partial<TrackingServerOptions> = {}) => {
    const s = await startTrackingServer({ db: stack.db, client: stack.client, tracking: stack.trackingSetup, port: 0, requestsPerSecond: 5, signalEveryMs: 500, ...extra });
    servers.push(s);
    return (link: string, init: RequestInit = {}) => fetch(link.replace(stack.trackingSetup.baseUrl, s.url), { redirect: 'manual', ...init }).then((r) => r.status);
  };

  it('tells 300 recipients behind one proxy apart (TRUST_PROXY), and still limits one of them flooding, spoofed header or not', async () => {
    const behindProxy = await server({ trustProxy: { hops: 1 } });
    const statuses = await Promise.all(messages.map((m, i) => behindProxy(clickOf(m), { headers: { 'X-Forwarded-For': `10.0.${i >> 8}.${i & 255}` } })));
    expect(statuses.filter((s) => s === 302)).toHaveLength(PEOPLE);
    // Without TRUST_PROXY every recipient is the proxy: most clicks are refused (what users behind a proxy met before).
    const naive = await server();
    const refused = (await Promise.all(messages.map((m, i) => naive(clickOf(m), { headers: { 'X-Forwarded-For': `10.1.${i >> 8}.${i & 255}` } })))).filter((s) => s === 429);
    expect(refused.length).toBeGreaterThan(PEOPLE / 2);
    // One client flooding, writing random addresses in front of its own (the proxy appends the real one): limited.
    const flood = await Promise.all(Array.from({ length: 60 }, (_, i) => behindProxy(clickOf(messages[0]), { headers: { 'X-Forwarded-For': `172.16.0.${i}, 10.9.9.9` } })));
    expect(flood.filter((s) => s === 429).length).toBeGreaterThan(30);
  });

  it('never refuses an open or a one-click unsubscribe, however many come from one address; HEAD is not an open', async () => {
    const provider = await server({ requestsPerSecond: 1 });
    const opens = await Promise.all(messages.slice(0, 200).map((m) => provider(pixelOf(m))));
    expect(opens.every((s) => s === 200)).toBe(true);
    const unsubscribed = await Promise.all(messages.slice(0, 50).map((m) => provider(unsubscribeOf(m), { method: 'POST', body: 'List-Unsubscribe=One-Click' })));
    expect(unsubscribed.every((s) => s === 200)).toBe(true);
    expect(await stack.db.optOut.count({ where: { address: { endsWith: '@proxy.example' } } })).toBe(50);
    // A scanner's HEAD on the pixel of someone who never opened: answered, not counted.
    const unopened = messages[PEOPLE - 1];
    expect(await provider(pixelOf(unopened), { method: 'HEAD' })).toBe(200);
    await servers.at(-1)!.flush();
    const row = await stack.db.sendingLog.findFirst({ where: { deliveryId, email: unopened.to } });
    expect(await stack.db.trackingEvent.count({ where: { sendingLogId: row!.id, kind: 'open' } })).toBe(0);
  });

  it('starts and serves while Temporal is down, stores every event, and signals the KPIs once it is back', async () => {
    // `npm run tracking` started while its Temporal frontend cannot be reached at all.
    const port = await freePort();
    const child = spawn(process.execPath, TRACKING_PROCESS, {
      cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, DATABASE_URL: stack.dbUrl, TRACKING_PORT: String(port), TRACKING_SECRET: stack.trackingSetup.secret, TRACKING_BASE_URL: stack.trackingSetup.baseUrl },
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0)) === 200, 30_000, 'the tracking server listening');
      expect(await fetch(clickOf(messages[250]).replace(stack.trackingSetup.baseUrl, `http://127.0.0.1:${port}`), { redirect: 'manual' }).then((r) => r.status)).toBe(302);
      await eventually(async () => (await stack.db.trackingEvent.count({ where: { kind: 'click' } })) >= 1, 10_000, 'the click stored');
    } finally {
      child.kill('SIGTERM');
    }

    // The Temporal server of the delivery goes down for 8 s while recipients click: served and stored meanwhile,
    // and the delivery's KPIs catch up once it is back.
    const during = await server({ requestsPerSecond: 100_000 });
    const clicksBefore = (await stack.client.workflow.getHandle(deliveryId).query(kpisQuery)).totalClicks;
    const outage = stack.crashServer(8_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const statuses = await Promise.all(messages.slice(100, 120).map((m) => during(clickOf(m))));
    expect(statuses.every((s) => s === 302)).toBe(true);
    await outage;
    await eventually(async () => {
      try {
        return (await stack.client.workflow.getHandle(deliveryId).query(kpisQuery)).totalClicks >= clicksBefore + 20;
      } catch {
        return false;
      }
    }, 90_000, 'the clicks made during the outage in the KPIs');
  }, 180_000);
});
