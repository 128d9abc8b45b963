import { kpisQuery, statusQuery } from '../../workflows/messages';
import { inputFiles, runCli } from '../helpers/cli';
import { baseSpec, eventually, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';

describe('recurring deliveries (Temporal Schedules)', () => {
  let stack: TestStack;
  const file = inputFiles('schedules-');
  beforeAll(async () => {
    stack = await startTestStack();
    await seedProfiles(stack.db, [{ email: 'ann@example.com', firstName: 'Ann' }]);
  });
  afterAll(async () => stack?.close());

  it('starts each run of the calendar as a separate delivery workflow, and can be listed, paused and deleted', async () => {
    const spec = file('weekly.json', JSON.stringify(baseSpec({ name: 'Weekly news' })));
    const created = await runCli(stack, ['schedule', 'create', spec, '--every', '2s', '--id', 'weekly-news']);
    expect(created).toMatchObject({ code: 0, stdout: 'weekly-news\n' });

    const runs = async () => {
      const ids: string[] = [];
      for await (const w of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}"` })) ids.push(w.workflowId);
      return ids;
    };
    await eventually(async () => (await runs()).length >= 2, 30_000, 'two runs of the schedule');
    expect((await runCli(stack, ['schedule', 'pause', 'weekly-news'])).code).toBe(0);

    const ids = await runs();
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^weekly-news-\d{4}-\d\d-\d\dT/); // the schedule id and the run's time
    for (const id of ids.slice(0, 2)) {
      const handle = stack.client.workflow.getHandle(id);
      await eventually(async () => (await handle.query(statusQuery)).state === 'sent', 30_000, `${id} sent`);
      expect(await handle.query(kpisQuery)).toMatchObject({ targeted: 1, sent: 1 });
      expect(await stack.db.sendingLog.count({ where: { deliveryId: id, status: 'sent' } })).toBe(1); // its own sending log
    }

    const listed = await runCli(stack, ['schedule', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: 'weekly-news', name: 'Weekly news', calendar: 'every 2s', overlap: 'skip', paused: true })]);
    expect((await runCli(stack, ['schedule', 'delete', 'weekly-news'])).stdout).toBe('weekly-news: deleted\n');
    await eventually(async () => JSON.parse((await runCli(stack, ['schedule', 'list', '--json'])).stdout).length === 0, 10_000, 'schedule gone');
  });

  it('runs once, not once per missed period, when its worker comes back after three periods', async () => {
    await stack.stopWorker();
    const spec = file('daily.json', JSON.stringify(baseSpec({ name: 'Outage news' })));
    expect((await runCli(stack, ['schedule', 'create', spec, '--every', '3s', '--id', 'outage-news'])).code).toBe(0);
    const started = async () => {
      const runs: Array<{ id: string; startTime: Date }> = [];
      for await (const w of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "outage-news-"` })) runs.push({ id: w.workflowId, startTime: w.startTime });
      return runs;
    };
    await new Promise((r) => setTimeout(r, 10_500)); // three periods and more with no worker
    const back = Date.now();
    await stack.startWorker();
    const during = (await started()).filter((w) => w.startTime.getTime() < back);
    expect(during).toHaveLength(1); // the others were skipped: the first run had not ended
    const description = await stack.client.schedule.getHandle('outage-news').describe();
    expect(description.info.numActionsSkippedOverlap).toBeGreaterThanOrEqual(2);
    const late = stack.client.workflow.getHandle(during[0].id);
    await eventually(async () => (await late.query(statusQuery)).state === 'sent', 30_000, 'the late run sent');
    expect((await runCli(stack, ['schedule', 'delete', 'outage-news'])).code).toBe(0);
    // its tracking period was kept below the 3 s period, so that it does not hold back the next run
    expect((await late.result()).state).toBe('sent');
  });

  it('refuses a tracking period that reaches the next run, and an unknown overlap policy', async () => {
    const tracked = file('tracked.json', JSON.stringify(baseSpec({ trackingHours: 48 })));
    const daily = await runCli(stack, ['schedule', 'create', tracked, '--every', '1d', '--id', 'too-long']);
    expect(daily).toMatchObject({ code: 2, stderr: expect.stringContaining('trackingHours: 48 h reaches the next run (every 24 h)') });
    expect((await runCli(stack, ['schedule', 'create', tracked, '--every', '1d', '--overlap', 'pile-up'])).stderr).toContain('--overlap "pile-up" is not a policy');
    expect(JSON.parse((await runCli(stack, ['schedule', 'list', '--json'])).stdout).map((s: { id: string }) => s.id)).not.toContain('too-long');
    // with allow-all, runs may overlap: a long tracking period is fine
    expect((await runCli(stack, ['schedule', 'create', tracked, '--every', '1d', '--id', 'long-tracking', '--overlap', 'allow-all'])).code).toBe(0);
    expect((await runCli(stack, ['schedule', 'delete', 'long-tracking'])).code).toBe(0);
  });

  it('refuses a schedule without a calendar, with a bad interval or time zone, or with a contact date, and creates nothing', async () => {
    const before = (await runCli(stack, ['schedule', 'list', '--json'])).stdout;
    const spec = file('ok.json', JSON.stringify(baseSpec()));
    const dated = file('dated.json', JSON.stringify(baseSpec({ scheduleAt: '2030-01-01T09:00:00Z' })));
    const cases: Array<[string[], string]> = [
      [['schedule', 'create', spec], 'give a calendar: --cron'],
      [['schedule', 'create', spec, '--every', '2 weeks'], '--every "2 weeks" is not an interval'],
      [['schedule', 'create', spec, '--cron', '0 9 * * MON', '--timezone', 'Mars/Olympus'], '--timezone "Mars/Olympus" is not a time zone'],
      [['schedule', 'create', dated, '--every', '7d'], 'scheduleAt: a recurring delivery starts at each time of its calendar'],
      [['schedule', 'pause', 'no-such-schedule'], 'no recurring delivery "no-such-schedule"'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(stack, args);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: expect.stringContaining(message) });
    }
    expect((await runCli(stack, ['schedule', 'list', '--json'])).stdout).toBe(before);
  });
});
