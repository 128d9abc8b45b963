// A person's wish and a schedule's calendar, against what ops and the CRM do meanwhile: erased people brought back
// by a keyed import keep their opt-out and quarantine; a run triggered by hand never doubles one of the calendar.
import { inputFiles, runCli } from '../helpers/cli';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import { account } from './fault-table';

describe("people's wishes and schedules", () => {
  let stack: TestStack;
  const file = inputFiles('wishes-');
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());

  const cli = async (...args: string[]) => {
    const r = await runCli(stack, args);
    if (r.code !== 0) throw new Error(`delivery ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  it('erased people brought back by a keyed import: their opt-outs and quarantines hold, nobody of them is mailed', async () => {
    const D = 'wishes.example';
    const customers = Array.from({ length: 60 }, (_, i) => `person${i + 1}@${D},C-${i + 1}`);
    await cli('profiles', 'import', file('crm.csv', ['email,customerId', ...customers].join('\n')), '--key', 'customerId');
    // Fifteen former addresses: ten opted out, five bounced for good, then all fifteen people asked to be forgotten.
    const former = Array.from({ length: 15 }, (_, i) => `former${i + 1}@${D}`);
    await cli('profiles', 'import', file('former.csv', ['email', ...former].join('\n')));
    await cli('optouts', 'add', ...former.slice(0, 10));
    for (const address of former.slice(10)) {
      await stack.db.quarantine.create({ data: { address, status: 'quarantined', failureType: 'hard', reason: 'user unknown', errorCount: 1, lastErrorAt: new Date() } });
    }
    for (const address of former) await cli('profiles', 'erase', address);
    // The CRM's next export moves fifteen customers onto those addresses.
    await cli('profiles', 'import', file('crm-again.csv', ['email,customerId', ...former.map((a, i) => `${a},C-${i + 1}`)].join('\n')), '--key', 'customerId');

    const handle = await stack.start(baseSpec({ audience: { where: { email: { endsWith: `@${D}` } } } }));
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ targeted: 60, toDeliver: 45, toExclude: 15, sent: 45 });
    expect(await handle.query('exclusions')).toEqual({ toExclude: 15, byCause: { 'opted out': 10, 'address in quarantine': 5 } });
    expect(stack.sink.messages.filter((m) => m.to.startsWith('former'))).toHaveLength(0);
    const row = await account(stack, handle.workflowId, 'erased people (10 opted out, 5 quarantined) brought back by a keyed import before a delivery', 15);
    expect(row).toMatchObject({ recipients: 45, received: 45, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0, sentDespiteOptOut: 0 });
  });

  it('a manual trigger just before a scheduled run, and during it: refused, each person receives the digest once', async () => {
    const D = 'digest.example';
    await seedProfiles(stack.db, manyProfiles(48, D));
    stack.sink.messages.length = 0;
    // No trackingHours: each run collects opens and clicks for most of the period (0.9 × 40 s), as a real digest does.
    const spec = file('digest.json', JSON.stringify(baseSpec({ name: 'Digest', audience: { where: { email: { endsWith: `@${D}` } } }, trackingHours: undefined })));
    await cli('schedule', 'create', spec, '--every', '40s', '--id', 'digest');
    const schedule = stack.client.schedule.getHandle('digest');
    const nextRun = async () => (await schedule.describe()).info.nextActionTimes[0].getTime();
    let refused = 0;
    // Seconds before the calendar's run (within half the period): refused, nothing started.
    await eventually(async () => (await nextRun()) - Date.now() < 15_000, 45_000, 'the next run close');
    const early = await runCli(stack, ['schedule', 'trigger', 'digest']);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/^digest: no run started: the next run is due at .* \(in \d+ s\): it will send the same content/);
    refused++;
    // During the calendar's run (sending, then its tracking period): refused.
    await eventually(async () => (await schedule.describe()).info.runningActions.length === 1, 30_000, 'the calendar run');
    const busy = await runCli(stack, ['schedule', 'trigger', 'digest']);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/no run started: a run is in progress \(digest-.*\): a second one would overlap it/);
    refused++;
    await cli('schedule', 'delete', 'digest');
    const runs: string[] = [];
    for await (const w of stack.client.workflow.list({ query: 'WorkflowId STARTS_WITH "digest-"' })) runs.push(w.workflowId);
    expect(runs).toHaveLength(1);
    await eventually(async () => (await stack.db.sendingLog.count({ where: { deliveryId: runs[0], status: 'sent' } })) === 48, 30_000, 'the run sent');
    const row = await account(stack, runs[0], `manual trigger of a schedule ${refused}× (seconds before its run, during it): refused`, refused);
    expect(row).toMatchObject({ recipients: 48, received: 48, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  }, 120_000);
});
