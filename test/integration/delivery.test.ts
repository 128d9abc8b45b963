import { WorkflowFailedError } from '@temporalio/client';
import { kpisQuery, logsQuery, statusQuery } from '../../workflows/messages';
import { clearData, baseSpec, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

describe('a delivery end to end', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(() => clearData(stack));

  it('prepares with exact KPIs and exclusion causes, then sends one personalized email per recipient', async () => {
    await seedProfiles(stack.db, [
      { email: 'ann@example.com', firstName: 'Ann', lastName: '<Lee>' },
      { email: 'bob@example.com', firstName: 'Bob', lastName: 'Ray' },
      { email: 'ANN@example.com', firstName: 'Ann again' }, // duplicate address
      { email: 'not-an-address', firstName: 'Bad' }, // invalid
      { email: '', firstName: 'Nobody' }, // no address
      { email: 'carl@example.com', firstName: 'Carl', optOut: true }, // opted out
      { email: 'dora@example.com', firstName: 'Dora', lastName: 'Kim' },
    ]);
    const handle = await stack.start(baseSpec());
    const outcome = await handle.result();
    expect(outcome.state).toBe('sent');
    expect(outcome.kpis).toMatchObject({ targeted: 7, toDeliver: 3, toExclude: 4, sent: 3, delivered: 3, failed: 0, pending: 0 });

    const excluded = await stack.db.sendingLog.findMany({ where: { status: 'ignored' }, orderBy: { profileId: 'asc' } });
    expect(excluded.map((r) => [r.email, r.exclusionCause])).toEqual([
      ['ANN@example.com', 'duplicate'], ['not-an-address', 'invalid address'], ['', 'address not specified'], ['carl@example.com', 'opted out'],
    ]);
    expect([...stack.sink.countByRecipient()].sort()).toEqual([['ann@example.com', 1], ['bob@example.com', 1], ['dora@example.com', 1]]);
    const ann = stack.sink.messages.find((m) => m.to === 'ann@example.com')!.mail;
    expect(ann.subject).toBe('Hello Ann');
    expect(ann.html).toContain('Hi Ann &lt;Lee&gt;'); // personalization values are HTML-escaped
    expect(ann.text?.trim()).toBe('Hi Ann <Lee>');
    expect(ann.from?.value).toEqual([{ name: 'Shop', address: 'news@shop.example' }]);
    const logs = await handle.query(logsQuery);
    expect(logs.entries.map((e) => e.message)).toContainEqual(expect.stringContaining('3 to deliver, 4 to exclude'));
  });

  it('waits for confirm under manual approval', async () => {
    await seedProfiles(stack.db, manyProfiles(5));
    const handle = await stack.start(baseSpec({ approval: 'manual' }));
    await waitForState(handle, 'prepared');
    await new Promise((r) => setTimeout(r, 1500));
    expect(stack.sink.messages).toHaveLength(0);
    expect(await handle.query(kpisQuery)).toMatchObject({ targeted: 5, toDeliver: 5, sent: 0 });
    await handle.signal('confirm');
    expect((await handle.result()).kpis.sent).toBe(5);
    expect(stack.sink.messages).toHaveLength(5);
  });

  it('waits for the contact date of a scheduled delivery', async () => {
    await seedProfiles(stack.db, manyProfiles(3));
    const scheduleAt = new Date(Date.now() + 6000).toISOString();
    const handle = await stack.start(baseSpec({ scheduleAt }));
    await waitForState(handle, 'scheduled');
    expect(stack.sink.messages).toHaveLength(0);
    await handle.result();
    expect(stack.sink.messages).toHaveLength(3);
    const firstSentAt = Math.min(...stack.sink.messages.map((m) => m.mail.date?.getTime() ?? 0));
    expect(firstSentAt).toBeGreaterThanOrEqual(Date.parse(scheduleAt) - 1000);
  });

  it('pauses with no message sent while paused, and resumes sending every message exactly once', async () => {
    await seedProfiles(stack.db, manyProfiles(150));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 50 }));
    await waitForState(handle, 'sending');
    while (stack.sink.messages.length < 20) await new Promise((r) => setTimeout(r, 50));
    await handle.signal('pause');
    await waitForState(handle, 'paused', 15_000);
    const whenPaused = stack.sink.messages.length;
    await new Promise((r) => setTimeout(r, 2000));
    expect(stack.sink.messages.length).toBe(whenPaused);
    expect(whenPaused).toBeLessThan(150);
    expect((await handle.query(kpisQuery)).sent).toBe(whenPaused);
    await handle.signal('resume');
    const outcome = await handle.result();
    expect(outcome.kpis).toMatchObject({ sent: 150, pending: 0, possibleDuplicates: 0 });
    const counts = stack.sink.countByRecipient();
    expect(counts.size).toBe(150);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Pooled: a handful of connections (3 per attempt; the pause ends one attempt), not one per message.
    expect(new Set(stack.sink.messages.map((m) => m.sessionId)).size).toBeLessThanOrEqual(6);
  });

  it('continues as new when its history grows, without losing or repeating a message', async () => {
    await seedProfiles(stack.db, manyProfiles(60));
    const handle = await stack.client.workflow.start('emailDelivery', {
      taskQueue: stack.taskQueue, workflowId: `long-history-${Date.now()}`,
      args: [baseSpec({ messagesPerSecond: 10 }), { maxHistoryEvents: 25 }],
    });
    const outcome = await handle.result(); // follows the chain of runs
    expect(outcome.kpis).toMatchObject({ toDeliver: 60, sent: 60, pending: 0 });
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    const counts = stack.sink.countByRecipient();
    expect(counts.size).toBe(60);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const logs = (await stack.client.workflow.getHandle(handle.workflowId).query(logsQuery)).entries.map((e) => e.message);
    expect(logs).toContainEqual(expect.stringMatching(/^Continuing as new after \d+ history events$/));
    expect(logs[0]).toMatch(/^Preparation started/); // the log is carried over
  });

  it('stops during sending: nothing more is sent and the rest is cancelled', async () => {
    await seedProfiles(stack.db, manyProfiles(200));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 40 }));
    await waitForState(handle, 'sending');
    while (stack.sink.messages.length < 10) await new Promise((r) => setTimeout(r, 50));
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const atStop = stack.sink.messages.length;
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'stopped' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(stack.sink.messages.length).toBe(atStop);
    const sent = await stack.db.sendingLog.count({ where: { status: 'sent' } });
    const cancelled = await stack.db.sendingLog.count({ where: { status: 'cancelled' } });
    expect(sent).toBe(atStop);
    expect(sent + cancelled).toBe(200);
  });

  it('stops during preparation: nothing is ever sent', async () => {
    await seedProfiles(stack.db, manyProfiles(30_000));
    const handle = await stack.start(baseSpec());
    await waitForState(handle, 'preparing');
    await new Promise((r) => setTimeout(r, 300));
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'stopped' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(stack.sink.messages.map((m) => m.to)).toEqual([]);
    expect(await stack.db.sendingLog.count({ where: { status: { in: ['pending', 'sending', 'sent'] } } })).toBe(0);
  });

  it('fails the preparation of a broken template with a readable log, and sends nothing', async () => {
    await seedProfiles(stack.db, manyProfiles(3));
    // Started straight through Temporal, as ops could with the temporal CLI: the CLI would refuse it.
    const handle = await stack.client.workflow.start('emailDelivery', {
      taskQueue: stack.taskQueue, workflowId: `broken-${Date.now()}`, args: [baseSpec({ html: '<p>Hi {{#if firstName}}</p>' })],
    });
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('failed');
    expect(status.error).toMatch(/html template: syntax error/);
    const logs = await handle.query(logsQuery);
    expect(logs.entries.at(-1)).toMatchObject({ level: 'error', message: expect.stringMatching(/1 error/) });
    expect(logs.entries.map((e) => e.message).join('\n')).toMatch(/Preparation failed: html template: syntax error/);
    expect(stack.sink.messages).toHaveLength(0);
  });
});
