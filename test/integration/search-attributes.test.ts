import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureSearchAttributes } from '../../worker/search-attributes';
import { SEARCH_ATTRIBUTES, pauseUpdate } from '../../workflows/messages';
import { runCli } from '../helpers/cli';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';


/** The workflow ids of the stack's task queue that a visibility query finds. */
async function idsWhere(stack: TestStack, query: string): Promise<string[]> {
  const found: string[] = [];
  for await (const w of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}" AND ${query}` })) found.push(w.workflowId);
  return found;
}

describe('search attributes', () => {
  it('are registered by the worker when the server lacks them, once', async () => {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_CLI_PATH! } },
    });
    try {
      const names = SEARCH_ATTRIBUTES.map((k) => k.name);
      expect(names).toEqual(['DeliveryState', 'DeliveryName', 'DeliveryContactDate', 'DeliverySent', 'DeliveryErrors', 'DeliveryOpens', 'DeliveryPausedBy']);
      expect(await ensureSearchAttributes(env.connection, 'default')).toEqual(names);
      expect(await ensureSearchAttributes(env.connection, 'default')).toEqual([]);
      const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(names));
    } finally {
      await env.teardown();
    }
  });

  it('let ops list deliveries scheduled for tomorrow, and sent ones by their counts', async () => {
    const stack = await startTestStack();
    try {
      await seedProfiles(stack.db, manyProfiles(3));
      const tomorrow = new Date(Date.now() + 24 * 3600_000);
      const scheduled = await stack.start(baseSpec({ name: 'Tomorrow', scheduleAt: tomorrow.toISOString() }));
      const sent = await stack.start(baseSpec({ name: 'Today' }));
      await waitForState(scheduled, 'scheduled');
      await waitForState(sent, 'sent');
      const ids = (query: string) => idsWhere(stack, query);
      const day = (d: Date) => d.toISOString().slice(0, 10);
      const tomorrowQuery = `DeliveryState = "scheduled" AND DeliveryContactDate >= "${day(tomorrow)}T00:00:00Z" AND DeliveryContactDate < "${day(new Date(tomorrow.getTime() + 24 * 3600_000))}T00:00:00Z"`;
      await eventually(async () => (await ids(tomorrowQuery)).join() === scheduled.workflowId, 10_000, 'scheduled for tomorrow');
      await eventually(async () => (await ids('DeliverySent = 3 AND DeliveryErrors = 0 AND DeliveryName = "Today"')).join() === sent.workflowId, 10_000, 'sent with counts');
      expect(await ids('DeliveryState = "failed"')).toEqual([]);
    } finally {
      await stack.close();
    }
  });

  it('tell a delivery the engine paused (a cause to fix) from one ops paused, in Temporal and in delivery list', async () => {
    const stack = await startTestStack({
      refuseRecipient: (a) => (a.endsWith('@blocked.example') ? { code: 554, message: `5.7.1 <${a}>: Relay access denied` } : undefined),
    });
    try {
      await seedProfiles(stack.db, [...manyProfiles(5, 'blocked.example'), ...manyProfiles(30, 'slow.example')]);
      const byEngine = await stack.start(baseSpec({ name: 'Blocked', audience: { where: { email: { endsWith: '@blocked.example' } } } }));
      const byOps = await stack.start(baseSpec({ name: 'Slow', messagesPerSecond: 1, audience: { where: { email: { endsWith: '@slow.example' } } } }));
      await waitForState(byOps, 'sending');
      await byOps.executeUpdate(pauseUpdate);
      await waitForState(byEngine, 'paused');
      await waitForState(byOps, 'paused');
      const ids = (query: string) => idsWhere(stack, query);
      await eventually(async () => (await ids('DeliveryState = "paused" AND DeliveryPausedBy = "engine"')).join() === byEngine.workflowId, 10_000, 'paused by the engine');
      await eventually(async () => (await ids('DeliveryState = "paused" AND DeliveryPausedBy = "ops"')).join() === byOps.workflowId, 10_000, 'paused by ops');
      const rows = JSON.parse((await runCli(stack, ['list', '--state', 'paused', '--json'])).stdout) as Array<{ name: string; pausedBy: string }>;
      expect(rows.map((r) => [r.name, r.pausedBy]).sort()).toEqual([['Blocked', 'engine'], ['Slow', 'ops']]);
      expect((await runCli(stack, ['list', '--state', 'paused'])).stdout).toMatch(/Blocked\s+\S+\s+paused by engine/);
    } finally {
      await stack.close();
    }
  });
});
