import { spawn } from 'node:child_process';
import { sendCommand } from '../../client/deliveries';
import type { PlainCommand } from '../../domain/lifecycle';
import { InputError } from '../../client/errors';
import type { DeliveryState } from '../../domain/delivery';
import { statusQuery } from '../../workflows/messages';
import { inputFiles, runCli, workflowCount as countWorkflows } from '../helpers/cli';
import { ROOT, WORKER_PROCESS, WORKFLOW_BUNDLE } from '../helpers/paths';
import { baseSpec, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import type { DeliveryHandle } from '../../client/deliveries';
import { startTrackingServer } from '../../tracking/server';

describe('bad input changes nothing; profile data and secrets stay out of Temporal', () => {
  let stack: TestStack;
  const file = inputFiles('delivery-bad-input-');
  const workflowCount = () => countWorkflows(stack);
  const refusedSpec = async (spec: unknown, error: string) => {
    const r = await runCli(stack, ['start', file('spec.json', JSON.stringify(spec))]);
    expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 2, stderr: `Invalid delivery spec:\n  - ${error}` });
  };

  beforeAll(async () => {
    stack = await startTestStack({ refuseRecipient: (a) => (a.startsWith('refused') ? { code: 550, message: `5.1.1 <${a}>: user unknown` } : undefined) });
  });
  afterAll(async () => stack?.close());

  it('refuses malformed, oversized and injected specs with the exact error', async () => {
    await refusedSpec([1, 2], 'spec: must be a JSON object with the delivery fields (name, from, subject, html, audience…)');
    await refusedSpec(baseSpec({ html: 'x'.repeat(600_000) }), 'html: is larger than 524288 characters');
    await refusedSpec(baseSpec({ name: 'n'.repeat(201) }), 'name: Too big: expected string to have <=200 characters');
    await refusedSpec(baseSpec({ subject: 'Hi\r\nBcc: all@victim.example' }), 'subject: must be one line of text without control characters (CR, LF, TAB, NUL, ESC…): they would inject or corrupt mail headers');
    await refusedSpec(baseSpec({ from: 'Shop <a@shop.example>\nBcc: all@victim.example' }),
      'from: must be one line of text without control characters (CR, LF, TAB, NUL, ESC…): they would inject or corrupt mail headers\n  - from: is not a valid sender: use "name@domain" or "Name <name@domain>"');
    await refusedSpec(baseSpec({ subject: 'Sale\u0000\u001b[2J now' }), 'subject: must be one line of text without control characters (CR, LF, TAB, NUL, ESC…): they would inject or corrupt mail headers');
    await refusedSpec(baseSpec({ name: 'Weekly\u001b]0;pwned\u0007' }), 'name: must be one line of text without control characters (CR, LF, TAB, NUL, ESC…): they would inject or corrupt mail headers');
    await refusedSpec(baseSpec({ html: '<a href="https://{{attributes.shop}}.shop.example/offers">Offers</a>' }),
      'html: link 1 "https://{{attributes.shop}}.shop.example/offers" takes its scheme or host from a field; a click may only lead to a host written in the template: ' +
      'write "https://" and the host literally, and personalize the path or query (e.g. https://shop.example/{{attributes.page}})');
    await refusedSpec(baseSpec({ from: 'Shop <shop@bücher.example>' }), 'from: is not a valid sender: use "name@domain" or "Name <name@domain>"');
    await refusedSpec(baseSpec({ proof: { to: ['qa@team.example', 'not an address'] } }), 'proof.to.1: is not a valid address');
    await refusedSpec(baseSpec({ html: '{{> ../../etc/passwd}}' }), 'html template: partials and decorators are not supported ({{> …}}, {{* …}}); write the content inline');
    await refusedSpec(baseSpec({ html: '{{lookup this "constructor"}}{{require "fs"}}' }), 'html template: unknown helper {{require}} (line 1); the helpers are if, unless, each and with');
    await refusedSpec(baseSpec({ scheduleAt: '2020-01-01T00:00:00Z' }), 'scheduleAt: 2020-01-01T00:00:00Z is in the past; remove it to send now, or give a future date');
    expect(await workflowCount()).toBe(0);
  });

  it('refuses bad CSV files and imports nothing', async () => {
    const before = await stack.db.profile.count();
    const cases: Array<[string, string | Buffer, string]> = [
      ['latin1.csv', Buffer.from('email,firstName\nzo\xe9@example.com,Zo\xe9\n', 'latin1'), 'the file is not UTF-8 text: convert it first (e.g. iconv -f latin1 -t utf-8 in.csv > out.csv). Nothing was imported.'],
      ['noheader.csv', 'ann@example.com,Ann\n', 'the header row has no "email" column (found: ann@example.com, Ann); the first row must name the columns. Nothing was imported.'],
      ['crlf-name.csv', 'email,firstName\nann@example.com,"Ann\r\nBcc: x@y.example"\n', '1 invalid row(s); nothing was imported:\n  row 2: firstName: contains a line break'],
      ['nul.csv', 'email,firstName,note\nann@example.com,Ann,ok\nbob@example.com,Bob,\u0000\u001b[2J\n', '1 invalid row(s); nothing was imported:\n  row 3: note: contains a control character (NUL, escape…): remove it'],
      ['unicode.csv', 'email\nzoë@example.com\n', '1 invalid row(s); nothing was imported:\n  row 2: email: "zoë@example.com" is not a valid address'],
    ];
    for (const [name, content, error] of cases) {
      const csv = file(name, content);
      const r = await runCli(stack, ['profiles', 'import', csv]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${csv}: ${error}`);
    }
    expect(await stack.db.profile.count()).toBe(before);
    const quoted = await runCli(stack, ['profiles', 'import', file('quoted.csv', 'email,note\nidn@xn--bcher-kva.example,"two\nlines"\n')]);
    expect(quoted.stdout).toContain('1 profiles added, 0 updated, 0 skipped, 0 rejected');
    expect((await stack.db.profile.findFirst({ where: { email: 'idn@xn--bcher-kva.example' } }))?.attributes).toBe('{"note":"two\\nlines"}');
    await stack.db.profile.deleteMany();
  });

  it('refuses every command in every state where it does not apply, and changes nothing', async () => {
    await seedProfiles(stack.db, manyProfiles(200));
    const at = async (state: DeliveryState, spec: Record<string, unknown>, run?: (h: DeliveryHandle) => Promise<void>) => {
      // started straight through Temporal, so that a broken spec reaches the workflow (the CLI refuses it)
      const h: DeliveryHandle = await stack.client.workflow.start('emailDelivery', { taskQueue: stack.taskQueue, workflowId: `states-${state}-${Date.now()}`, args: [baseSpec(spec)] });
      if (run) await run(h);
      await waitForState(h, state);
      return h;
    };
    const deliveries: Array<[DeliveryState, DeliveryHandle]> = [
      ['prepared', await at('prepared', { approval: 'manual' })],
      ['scheduled', await at('scheduled', { scheduleAt: new Date(Date.now() + 3_600_000).toISOString() })],
      ['sending', await at('sending', { messagesPerSecond: 2 })],
      ['paused', await at('paused', { messagesPerSecond: 5 }, async (h) => {
        await waitForState(h, 'sending');
        await h.signal('pause');
      })],
      ['sent', await at('sent', { audience: { where: { email: 'user1@example.com' } } })],
      ['stopped', await at('stopped', { approval: 'manual' }, async (h) => {
        await waitForState(h, 'prepared');
        await h.cancel();
      })],
      ['failed', await at('failed', { html: '{{firstName}' })],
    ];
    const allowed: Record<PlainCommand, DeliveryState[]> = {
      confirm: ['prepared'], proof: ['prepared'], pause: ['sending'], resume: ['paused'], stop: ['preparing', 'prepared', 'scheduled', 'sending', 'paused'],
    };
    for (const [state, handle] of deliveries) {
      for (const command of Object.keys(allowed) as PlainCommand[]) {
        if (allowed[command].includes(state)) continue;
        const refusal = await sendCommand(stack.client, handle.workflowId, command).then(() => undefined, (e: unknown) => e);
        expect(refusal).toBeInstanceOf(InputError);
        expect((refusal as Error).message).toMatch(new RegExp(`^Cannot ${command} delivery ${handle.workflowId}: it is ${state}; `));
        expect((await handle.query(statusQuery)).state).toBe(state);
      }
    }
    for (const [state, handle] of deliveries) if (!['sent', 'stopped', 'failed'].includes(state)) await handle.cancel();
    await stack.db.profile.deleteMany();
  });

  it('keeps recipient addresses and profile fields out of the workflow history', async () => {
    await seedProfiles(stack.db, [
      { email: 'zebulon.quixote@private.example', firstName: 'Zebulon', lastName: 'Quixotic', country: 'ZZ', attributes: { secretCode: 'K7-PLUM' } },
      { email: 'refused.person@private.example', firstName: 'Ottoline', lastName: 'Vexley' },
      { email: 'not-an-address', firstName: 'Invalidia' },
    ]);
    const handle = await stack.start(baseSpec({ html: '<p>{{firstName}} {{lastName}} {{attributes.secretCode}}</p>' }));
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ targeted: 3, sent: 1, failed: 1, toExclude: 1 });
    // payloads are base64 in the history's JSON: decode them to search their text
    const history = JSON.stringify(await handle.fetchHistory(), (k, v: unknown) => (k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v));
    expect(history).toContain('user unknown'); // the failure reason is there, in the user's words…
    for (const secret of ['zebulon', 'quixot', 'refused.person', 'ottoline', 'vexley', 'k7-plum', 'not-an-address', 'invalidia', 'private.example']) {
      expect(history.toLowerCase()).not.toContain(secret); // …but no address or profile field
    }
    await stack.db.profile.deleteMany();
  });

  it('never prints the SMTP password', async () => {
    const child = spawn(process.execPath, WORKER_PROCESS, {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: `${stack.taskQueue}-secret`, DATABASE_URL: stack.dbUrl, SMTP_URL: 'smtp://mailer:s3cr3t-pa55@127.0.0.1:2599', WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const until = Date.now() + 60_000;
    while (!output.includes('SMTP') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    expect(output).toContain('SMTP smtp://***@127.0.0.1:2599');
    expect(output).not.toContain('s3cr3t-pa55');
  });

  it('answers a flood and garbage on the tracking server with 4xx (429 past the rate limit), never a 500, and records nothing', async () => {
    const server = await startTrackingServer({ db: stack.db, tracking: stack.trackingSetup, port: 0, requestsPerSecond: 5 });
    try {
      const garbage = [
        '/o/x', '/c/abc.1.1.AAAAAAAAAAAAAAAAAAAAAA', `/c/${'A'.repeat(5000)}`, '/u/%00%ff', '/c/a.b.c.d', '/m/..%2F..%2Fetc%2Fpasswd',
        `/o/${Buffer.from('any').toString('base64url')}.99999999999999999999.0.AAAAAAAAAAAAAAAAAAAAAA`, '/x/y', '/',
      ];
      const statuses = await Promise.all(Array.from({ length: 90 }, (_, i) => fetch(`${server.url}${garbage[i % garbage.length]}`, { redirect: 'manual' }).then((r) => r.status)));
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(60); // burst of 20, then 5 a second
      expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);
      await new Promise((r) => setTimeout(r, 1500)); // the bucket refills: the next request is judged again, not refused
      expect((await fetch(`${server.url}/c/a.b.c.d`, { method: 'DELETE' })).status).toBe(405);
      await server.flush();
      expect(await stack.db.trackingEvent.count()).toBe(0);
    } finally {
      await server.close();
    }
  });
});
