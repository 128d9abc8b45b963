// Traffic shaping on the real stack, behind a relay that throttles Google above 5 messages a second
// (stack/throttling-relay.ts): a throttling reply slows the provider down engine-wide, with its cause; warm-up,
// sending windows and the daily cap; the CLI. How the rate settles over a minute: traffic-shaping-convergence.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statusQuery } from '../../workflows/messages';
import type { DeliveryHandle } from '../../client/deliveries';
import { runCli } from '../helpers/cli';
import { googleLimiter } from '../../stack/throttling-relay';
import { baseSpec, clearData, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

describe('traffic shaping per mailbox provider (AIMD on throttling replies)', () => {
  let stack: TestStack;
  const limiter = googleLimiter(5);

  beforeAll(async () => {
    stack = await startTestStack({ smtpMaxConnections: 5, refuseRecipient: limiter.refuseRecipient });
  });
  afterAll(async () => stack?.close());

  it('a throttling reply slows Google down engine-wide, with its cause in the database; nobody failed, every message once', async () => {
    await clearData(stack);
    await seedProfiles(stack.db, [...manyProfiles(12, 'gmail.com'), ...manyProfiles(12, 'yahoo.com')]);
    const handle = await stack.start(baseSpec());
    const outcome = await handle.result();
    expect(outcome.kpis).toMatchObject({ toDeliver: 24, sent: 24, failed: 0, pending: 0, possibleDuplicates: 0 });
    expect(limiter.attempts.length).toBeGreaterThan(limiter.accepted.length); // Google did throttle
    await stack.sink.waitForCount(24);
    expect([...stack.sink.countByRecipient().values()].every((n) => n === 1)).toBe(true);
    expect(await stack.db.sendingLog.count({ where: { OR: [{ softFailures: { gt: 0 } }, { status: { not: 'sent' } }] } })).toBe(0);
    const google = await stack.db.domainThrottle.findUnique({ where: { domain: 'google' } });
    expect(google?.lastReply).toContain('4.7.28');
    expect(google?.cause).toBe('slow down (google-rate)');
  });

  /** Waits until the delivery waits (its situation), then stops it: what it said it waits for. */
  async function waitsThenStop(handle: DeliveryHandle, pattern: RegExp): Promise<string> {
    let situation = '';
    for (const until = Date.now() + 30_000; !pattern.test(situation = (await handle.query(statusQuery)).situation ?? '');) {
      if (Date.now() > until) throw new Error(`situation ${pattern} not reached in 30 s (last: ${situation})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await handle.cancel();
    await waitForState(handle, 'stopped');
    return situation;
  }

  it('warm-up: each provider gets the day\'s allowance from the sender domain, the rest waits for the next day on a timer', async () => {
    await clearData(stack);
    const started = await runCli(stack, ['warmup', 'start', 'shop.example', '--from', '20/day', '--grow', '2x', '--until', '1000/day']);
    expect(started.stdout).toMatch(/^shop\.example: warm-up created, 20\/day per provider on \d{4}-\d{2}-\d{2}, ×2 a day, 1000\/day from /);
    expect((await runCli(stack, ['warmup', 'start', 'shop.example', '--from', '20', '--grow', '2x', '--until', '1000/day'])).stderr).toContain('--from must be a daily volume such as 500/day');
    await seedProfiles(stack.db, [...manyProfiles(30, 'yahoo.com'), ...manyProfiles(30, 'outlook.com'), ...manyProfiles(5, 'small.example')]);
    const handle = await stack.start(baseSpec());
    const situation = await waitsThenStop(handle, /^Waiting until .*T00:00:00\.000Z: the warm-up of shop\.example allows 20 messages to (yahoo|microsoft)/);
    const received = (domain: string) => stack.sink.messages.filter((m) => m.to.endsWith(`@${domain}`)).length;
    expect([received('yahoo.com'), received('outlook.com'), received('small.example')]).toEqual([20, 20, 5]);
    expect(situation).toMatch(/\(45 \/ 65 /);
    const listed = (await runCli(stack, ['warmup', 'list', '--json'])).stdout;
    expect(JSON.parse(listed)[0]).toMatchObject({ senderDomain: 'shop.example', allowance: 20, usage: [{ provider: 'microsoft', used: 20 }, { provider: 'other', used: 5 }, { provider: 'yahoo', used: 20 }] });
    expect((await runCli(stack, ['warmup', 'stop', 'shop.example'])).stdout).toContain('shop.example: warm-up stopped');
  });

  it('windows and the daily cap: outside its window a delivery waits; past maxPerDay the rest waits for the next day', async () => {
    await clearData(stack);
    await seedProfiles(stack.db, manyProfiles(25, 'example.com'));
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const closed = { from: hhmm(Date.now() + 2 * 3600_000), to: hhmm(Date.now() + 3 * 3600_000), timeZone: 'UTC' };
    const outside = await stack.start(baseSpec({ windows: closed }));
    expect(await waitsThenStop(outside, /^Waiting until .*: outside the sending window: it opens at /)).toContain(`T${closed.from}:00.000Z`);
    expect(stack.sink.messages).toHaveLength(0);

    const capped = await stack.start(baseSpec({ name: 'Capped', maxPerDay: 10 }));
    expect(await waitsThenStop(capped, /the daily cap of 10 messages is reached: the rest goes on at .*T00:00:00\.000Z/)).toMatch(/\(10 \/ 25 /);
    expect(stack.sink.messages).toHaveLength(10);
    // A zone that does not exist is refused at the edge, naming the field, and nothing starts.
    const file = path.join(os.tmpdir(), `atlantis-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(baseSpec({ windows: { from: '08:00', to: '20:00', timeZone: 'Europe/Atlantis' } })));
    const bad = await runCli(stack, ['start', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('windows[0].timeZone: "Europe/Atlantis" is not a known IANA time zone');
  });

  it('the CLI: caps per provider, shaping rules listed, added, turned off; bad rules refused with the fix', async () => {
    expect((await runCli(stack, ['domains', 'set', 'microsoft', '--rate', '100'])).stdout).toContain('microsoft: at most 100 messages/s from the whole engine (created)');
    expect((await runCli(stack, ['domains', 'set', 'Google', '--rate', '100'])).stderr).toContain('"Google" is neither a domain');
    expect((await runCli(stack, ['domains', 'list'])).stdout).toMatch(/^microsoft\s+100\s+100\s+at its cap/m);
    expect((await runCli(stack, ['domains', 'providers'])).stdout).toMatch(/^gmail\.com\s+google\s+(known|mx)/m);
    expect((await runCli(stack, ['shaping', 'rules', 'list'])).stdout).toMatch(/^yahoo-tss04\s+text \/\\\[TSS04\\\]\/i\s+suspend for 2h\s+built-in/m);
    expect((await runCli(stack, ['shaping', 'rules', 'add', 'gmx-slow', '--code', '450', '--action', 'suspend'])).stderr).toContain('--for must be a duration from 1s to 7d');
    expect((await runCli(stack, ['shaping', 'rules', 'add', 'gmx-slow', '--code', '450', '--provider', 'gmx', '--action', 'slow'])).stdout).toContain('gmx-slow: slow down on code 450, provider gmx (created');
    expect((await runCli(stack, ['shaping', 'rules', 'remove', 'google-rate'])).stdout).toContain('google-rate: turned off');
    const rules = JSON.parse((await runCli(stack, ['shaping', 'rules', 'list', '--json'])).stdout) as Array<{ name: string; off?: boolean }>;
    expect(rules[0].name).toBe('gmx-slow');
    expect(rules.find((r) => r.name === 'google-rate')?.off).toBe(true);
    expect((await runCli(stack, ['shaping', 'rules', 'remove', 'nothing-here'])).code).toBe(2);
  });
});
