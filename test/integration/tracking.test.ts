import Database from 'better-sqlite3';
import { Client as PgClient } from 'pg';
import { kpisQuery } from '../../workflows/messages';
import type { Kpis } from '../../domain/delivery';
import { baseSpec, clearData, eventually, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

const HTML = '<html><body><p>Hi {{firstName}}</p>' +
  '<a href="https://shop.example/sale?u={{email}}&amp;src=mail">Sale</a> <a href="https://shop.example/about">About</a> ' +
  '<a href="{{mirrorPageUrl}}">View online</a> <a href="{{unsubscribeUrl}}">Unsubscribe</a></body></html>';
const spec = (overrides: Record<string, unknown> = {}) => baseSpec({ html: HTML, text: 'Unsubscribe: {{unsubscribeUrl}}', trackingHours: 1, ...overrides });

const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
const pixelOf = (html: string) => /<img src="([^"]+)"/.exec(html)![1];
const header = (mail: { headerLines: ReadonlyArray<{ key: string; line: string }> }, name: string) =>
  mail.headerLines.find((h) => h.key === name)?.line.replace(/^[^:]+:\s*/, '');

describe('tracking: opens, clicks, mirror page and unsubscribe', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  async function sentDelivery(overrides: Record<string, unknown> = {}) {
    await seedProfiles(stack.db, [
      { email: 'ann@example.com', firstName: 'Ann', attributes: { site: 'https://ann.example/' } },
      { email: 'bob@example.com', firstName: 'Bob', attributes: { site: 'javascript:alert(1)' } },
      { email: 'cid@example.com', firstName: 'Cid' },
    ]);
    const handle = await stack.start(spec(overrides));
    await waitForState(handle, 'sent');
    const mailOf = (to: string) => stack.sink.messages.find((m) => m.to === to)!.mail;
    return { handle, mailOf, kpis: () => handle.query(kpisQuery) };
  }
  const kpisReach = (kpis: () => Promise<Kpis>, want: Partial<Kpis>, ms = 5000) =>
    eventually(async () => { const k = await kpis(); return Object.entries(want).every(([key, v]) => JSON.stringify(k[key as keyof Kpis]) === JSON.stringify(v)); }, ms, `KPIs ${JSON.stringify(want)}`);

  it('moves Opens and Clicks within 5 s of a pixel fetch and a link click from a received email', async () => {
    const { mailOf, kpis } = await sentDelivery();
    const ann = mailOf('ann@example.com');
    expect(header(ann, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(header(ann, 'list-unsubscribe')).toMatch(new RegExp(`^<${stack.trackingSetup.baseUrl}/u/[^>]+>$`));
    const links = hrefs(String(ann.html));
    expect(links.every((l) => l.startsWith(stack.trackingSetup.baseUrl))).toBe(true);

    const pixel = await fetch(pixelOf(String(ann.html)));
    expect(pixel.status).toBe(200);
    expect(pixel.headers.get('content-type')).toBe('image/gif');
    await kpisReach(kpis, { opens: 1, totalOpens: 1, openRate: 33.3 });

    const click = await fetch(links[0], { redirect: 'manual' });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/sale?u=ann@example.com&src=mail');
    const about = await fetch(links[1], { redirect: 'manual' });
    expect(about.headers.get('location')).toBe('https://shop.example/about');
    // the same click again within a minute (a reload, a scanner) is answered and not counted
    for (let i = 0; i < 5; i++) expect((await fetch(links[0], { redirect: 'manual' })).status).toBe(302);
    await kpisReach(kpis, { clicks: 1, totalClicks: 2, clickRate: 33.3, clicksByLink: { 'https://shop.example/sale?u={{email}}&amp;src=mail': 1, 'https://shop.example/about': 1 } });

    // The mirror page shows Ann's message; it is neither a click nor an open.
    const mirror = await fetch(links[2]);
    expect(mirror.status).toBe(200);
    expect(await mirror.text()).toContain('Hi Ann');
    await kpisReach(kpis, { mirrorPageViews: 1, clicks: 1, totalClicks: 2, opens: 1 });
  });

  it('answers a forged, altered or misused token with a 4xx, never redirects elsewhere, and records nothing', async () => {
    const { mailOf } = await sentDelivery();
    const [sale] = hrefs(String(mailOf('ann@example.com').html));
    const pixel = pixelOf(String(mailOf('ann@example.com').html));
    const token = sale.split('/').pop()!;
    const [delivery, log, link, tag] = token.split('.');
    const base = stack.trackingSetup.baseUrl;
    const attempts = [
      `${base}/c/${delivery}.${log}.${link}.${tag.slice(0, -2)}${tag.endsWith('AA') ? 'BB' : 'AA'}`, // altered signature
      `${base}/c/${delivery}.${Number(log) + 1}.${link}.${tag}`, // another recipient
      `${base}/c/${delivery}.${log}.${Number(link) + 1}.${tag}`, // another link
      `${base}/c/${token}?url=https://evil.example/`, // a target in the query is ignored…
      `${base}/o/${token}`, // a click token used as a pixel
      `${base}/u/${pixel.split('/').pop()}`, // a pixel token used to unsubscribe
      `${base}/c/${encodeURIComponent('https://evil.example/')}`,
      `${base}/c/..%2f..%2fetc%2fpasswd`,
    ];
    const statuses: number[] = [];
    for (const url of attempts) {
      const res = await fetch(url, { redirect: 'manual' });
      statuses.push(res.status);
      if (res.status === 302) expect(res.headers.get('location')).toBe('https://shop.example/sale?u=ann@example.com&src=mail');
      else expect(res.headers.get('location')).toBeNull();
    }
    // Only the genuine token with an extra query (…which redirects to the template's own link) succeeds.
    expect(statuses).toEqual([400, 400, 400, 302, 400, 400, 400, 400]);
    const post = await fetch(`${base}/u/${token}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' });
    expect(post.status).toBe(400);
    await stack.tracking.flush();
    expect(await stack.db.trackingEvent.count()).toBe(1); // the one genuine click
    expect(await stack.db.profile.count({ where: { optOut: true } })).toBe(0);
    expect((await fetch(sale, { redirect: 'manual' })).status).toBe(302);
  });

  it('unsubscribes with a one-click POST (not with a GET), and the next delivery excludes the profile', async () => {
    const { mailOf, kpis } = await sentDelivery();
    const unsubscribe = /^<(.+)>$/.exec(String(header(mailOf('bob@example.com'), 'list-unsubscribe')))![1];
    const page = await fetch(unsubscribe); // what a link scanner does
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect(await stack.db.profile.count({ where: { optOut: true } })).toBe(0);

    const oneClick = await fetch(unsubscribe, {
      method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(oneClick.status).toBe(200);
    expect((await stack.db.profile.findFirstOrThrow({ where: { email: 'bob@example.com' } })).optOut).toBe(true);
    await kpisReach(kpis, { unsubscriptions: 1, clicks: 0 });

    const next = await stack.start(spec({ name: 'Next week' }));
    await waitForState(next, 'sent');
    const bob = await stack.db.sendingLog.findFirstOrThrow({ where: { deliveryId: next.workflowId, email: 'bob@example.com' } });
    expect([bob.status, bob.exclusionCause]).toEqual(['ignored', 'opted out']);
  });

  it('loses no event while the database is locked: opens and clicks wait, then count once each', async () => {
    const { mailOf, kpis } = await sentDelivery();
    const urls = ['ann@example.com', 'bob@example.com', 'cid@example.com'].flatMap((to) => {
      const html = String(mailOf(to).html);
      return [pixelOf(html), hrefs(html)[0]];
    });
    const unlock = await lockTrackingEvents(stack.dbUrl);
    const answers = await Promise.all(urls.map((u) => fetch(u, { redirect: 'manual' }).then((r) => r.status)));
    await new Promise((r) => setTimeout(r, 3000)); // several flushes meet the lock
    expect(await stack.db.trackingEvent.count()).toBe(0);
    await unlock();
    expect(answers.sort()).toEqual([200, 200, 200, 302, 302, 302]);
    await kpisReach(kpis, { opens: 3, totalOpens: 3, clicks: 3, totalClicks: 3 }, 10_000);
    expect(await stack.db.trackingEvent.count()).toBe(6);
  });

  it('keeps the history bounded under 100,000 tracking events, continuing as new while the KPIs carry on', async () => {
    const maxHistoryEvents = 60;
    await seedProfiles(stack.db, [{ email: 'ann@example.com', firstName: 'Ann' }, { email: 'bob@example.com', firstName: 'Bob' }]);
    const handle = await stack.start(spec(), { maxHistoryEvents });
    await waitForState(handle, 'sent');
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId } });
    // 100,000 events in 40 bursts over ~10 s: the tracking server writes them in batches and signals the
    // workflow at most twice a second.
    for (let burst = 0; burst < 40; burst++) {
      for (let i = 0; i < 2500; i++) {
        const row = rows[i % rows.length];
        expect(stack.tracking.record({ deliveryId: handle.workflowId, sendingLogId: row.id, kind: i % 5 === 0 ? 'click' : 'open', linkId: i % 5 === 0 ? 1 : 0 })).toBe(true);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const kpis = () => handle.query(kpisQuery);
    await kpisReach(kpis, { totalOpens: 80_000, totalClicks: 20_000, opens: 2, clicks: 2 }, 30_000);

    const description = await handle.describe();
    expect(description.runId).not.toBe(handle.firstExecutionRunId); // it continued as new…
    const runs = [handle.firstExecutionRunId, description.runId];
    for (const runId of runs) {
      const history = await stack.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      expect(history.events!.length).toBeLessThan(maxHistoryEvents + 20); // …and no run grew past the bound
    }
    expect((await kpis()).sent).toBe(2);
  });
});

/** Another connection holds the database's write lock (SQLite) or the events table's write lock (Postgres; reads go on). */
async function lockTrackingEvents(url: string): Promise<() => Promise<void>> {
  if (url.startsWith('file:')) {
    const db = new Database(url.slice('file:'.length));
    db.exec('BEGIN EXCLUSIVE');
    return async () => {
      db.exec('COMMIT');
      db.close();
    };
  }
  const client = new PgClient({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE "TrackingEvent" IN EXCLUSIVE MODE');
  return async () => {
    await client.query('COMMIT');
    await client.end();
  };
}
