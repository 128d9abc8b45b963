import { logsQuery, statusQuery } from '../../workflows/messages';
import { inputFiles, runCli, workflowCount as countWorkflows } from '../helpers/cli';
import { baseSpec, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

describe('the delivery CLI and bad input', () => {
  let stack: TestStack;
  const file = inputFiles('delivery-cli-');
  const workflowCount = () => countWorkflows(stack);

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());

  it('refuses a spec file that is not JSON, naming the file, and starts nothing', async () => {
    const r = await runCli(stack, ['start', file('broken.json', '{ "name": ')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.json is not valid JSON/);
    expect(await workflowCount()).toBe(0);
  });

  it('treats a usage mistake (missing argument or option, unknown option) as bad input: exit 2 with the usage, nothing started', async () => {
    const results = await Promise.all([['start'], ['domains', 'set', 'gmail.com'], ['status', 'some-id', '--bogus']].map((args) => runCli(stack, args)));
    expect(results.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(results[0].stderr).toContain("error: missing required argument 'spec'");
    expect(results[1].stderr).toContain("error: required option '--rate <messagesPerSecond>' not specified");
    expect(results[2].stderr).toContain("error: unknown option '--bogus'");
    expect((await runCli(stack, ['--help'])).code).toBe(0);
    expect(await workflowCount()).toBe(0);
  });

  it('refuses a spec with an unknown audience field and a bad template, listing each problem, and starts nothing', async () => {
    const r = await runCli(stack, ['start', file('bad.json', JSON.stringify(baseSpec({ audience: { where: { town: 'Paris' } } })))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('audience.where.town: unknown field "town"; use email, firstName, lastName, language, country, optOut, createdAt');
    const t = await runCli(stack, ['start', file('bad-template.json', JSON.stringify(baseSpec({ html: '{{firstNam}}' })))]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/html template: unknown field \{\{firstNam\}\}/);
    const past = await runCli(stack, ['start', file('past.json', JSON.stringify(baseSpec({ scheduleAt: '2020-01-01T00:00:00Z' })))]);
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(/scheduleAt: 2020-01-01T00:00:00Z is in the past/);
    expect(await workflowCount()).toBe(0);
  });

  it('imports nothing from a CSV with bad rows, and the valid rows with --skip-invalid', async () => {
    const csv = file('profiles.csv', 'email,firstName\nann@example.com,Ann\nbroken,Bob\n');
    const r = await runCli(stack, ['profiles', 'import', csv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('1 invalid row(s); nothing was imported:\n  row 3: email: "broken" is not a valid address');
    expect(await stack.db.profile.count()).toBe(0);
    const missingHeader = await runCli(stack, ['profiles', 'import', file('noheader.csv', 'ann@example.com,Ann\n')]);
    expect(missingHeader.stderr).toMatch(/no "email" column/);
    const skip = await runCli(stack, ['profiles', 'import', '--skip-invalid', csv]);
    expect(skip.code).toBe(0);
    expect(skip.stdout).toContain('1 profiles added, 0 updated, 0 skipped, 1 rejected');
    expect(await stack.db.profile.count()).toBe(1);
    await stack.db.profile.deleteMany();
  });

  it('drives a manual delivery: start, a signal in the wrong state is refused, confirm, status and logs', async () => {
    await seedProfiles(stack.db, manyProfiles(4));
    const started = await runCli(stack, ['start', file('manual.json', JSON.stringify(baseSpec({ approval: 'manual' })))]);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(/^delivery-test-delivery-[0-9a-f]{6}$/);
    const handle = stack.client.workflow.getHandle(id);
    await waitForState(handle, 'prepared');

    const pause = await runCli(stack, ['pause', id]);
    expect(pause.code).toBe(2);
    expect(pause.stderr).toContain(`Cannot pause delivery ${id}: it is prepared; pause applies while sending.`);
    const unknown = await runCli(stack, ['status', 'no-such-delivery']);
    expect(unknown.stderr).toContain('No delivery with id no-such-delivery');

    const confirm = await runCli(stack, ['confirm', id]);
    expect(confirm.code).toBe(0);
    expect(confirm.stdout).toBe(`${id}: confirm applied: sending starts\n`); // the workflow's answer to the update
    await handle.result();
    const status = JSON.parse((await runCli(stack, ['status', id, '--json'])).stdout);
    expect(status).toMatchObject({ id, status: { state: 'sent' }, kpis: { targeted: 4, toDeliver: 4, sent: 4 } });
    const watched = await runCli(stack, ['status', id]);
    expect(watched.stdout).toMatch(/Delivery .*: sent\n {2}Sent\n {2}Last command: confirm applied: sending starts \(\S+\)\n {2}Targeted +4/);
    const logs = JSON.parse((await runCli(stack, ['logs', id, '--json', '--limit', '2'])).stdout);
    expect(logs.entries).toHaveLength(2);
    expect(logs.entries[1].message).toMatch(/^Delivery sent: 4 sent/);
    expect((await runCli(stack, ['resume', id])).stderr).toContain('it is sent; resume applies to a paused delivery');
    expect(stack.sink.messages).toHaveLength(4);
  });

  it('ignores a raw signal in the wrong state (as sent with the temporal CLI) with a warning log, changing nothing', async () => {
    const handle = await stack.start(baseSpec({ approval: 'manual', name: 'Raw signals' }));
    await waitForState(handle, 'prepared');
    await handle.signal('resume');
    await handle.signal('pause');
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'prepared' });
    const messages = (await handle.query(logsQuery)).entries.map((e) => `${e.level}: ${e.message}`);
    expect(messages).toContain('warning: resume ignored: the delivery is prepared; resume applies to a paused delivery');
    expect(messages).toContain('warning: pause ignored: the delivery is prepared; pause applies while sending');
    expect((await runCli(stack, ['stop', handle.workflowId])).code).toBe(0);
    await waitForState(handle, 'stopped');
  });
});
