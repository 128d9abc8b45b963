// Operating deliveries as ops do, on the real stack: Terminate and Reset from the Web UI's More Actions, commands
// that answer (signals whose fate shows, updates that refuse with the reason), and `delivery list`.
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { DELIVERY_STATE, confirmUpdate, pauseUpdate, statusQuery, type DeliveryStatus } from '../../workflows/messages';
import type { DeliveryRow } from '../../client/delivery-list';
import { runCli, runCliFor } from '../helpers/cli';
import { baseSpec, eventually, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

/** What the Web UI shows: the workflow's metadata (its handlers) and its current details. */
interface Metadata {
  definition: { signalDefinitions: Array<{ name: string }>; updateDefinitions: Array<{ name: string }> };
  currentDetails: string;
}

describe('operating deliveries from the Web UI and the CLI', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
    await seedProfiles(stack.db, Array.from({ length: 40 }, (_, i) => ({ email: `ops${i}@example.com`, firstName: `P${i}` })));
  });
  afterAll(() => stack?.close());

  const statusOfRows = async (deliveryId: string) => Object.fromEntries(
    (await stack.db.sendingLog.groupBy({ by: ['status'], where: { deliveryId }, _count: true })).map((g) => [g.status, g._count]),
  );

  it('reconciles a sending delivery terminated in Temporal: rows cancelled, state terminated, stop and status report it', async () => {
    const handle = await stack.start(baseSpec({ name: 'Ops: terminated', messagesPerSecond: 5 }));
    await eventually(async () => ((await statusOfRows(handle.workflowId)).sent ?? 0) >= 3, 30_000, 'a few messages sent');
    await handle.terminate('clicked Terminate in the Web UI');

    const stop = await runCli(stack, ['stop', handle.workflowId]);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(/Terminated in Temporal .*: \d+ sent, \d+ cancelled and never sent .*reconciled now/);
    const rows = await statusOfRows(handle.workflowId);
    expect(rows.pending ?? 0).toBe(0);
    expect(rows.sending ?? 0).toBe(0);
    expect(rows.sent + rows.cancelled).toBe(40);
    const received = stack.sink.messages.map((m) => m.to);
    expect(received).toHaveLength(rows.sent); // every message sent is recorded sent, none twice
    expect(new Set(received).size).toBe(rows.sent);

    const latest = stack.client.workflow.getHandle(handle.workflowId);
    expect((await latest.describe()).typedSearchAttributes.get(DELIVERY_STATE)).toBe('terminated');
    const status = await runCli(stack, ['status', handle.workflowId]); // returns at once: the state is final
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`Delivery ${handle.workflowId}: terminated`);
    expect(status.stdout).toMatch(new RegExp(`Cancelled\\s+${rows.cancelled}`));
    expect((await runCli(stack, ['stop', handle.workflowId])).code).toBe(2); // nothing left to stop
  }, 90_000);

  it('a reset to before the sending replays it without a second copy to anyone', async () => {
    const before = stack.sink.messages.length;
    const handle = await stack.start(baseSpec({ name: 'Ops: reset', audience: { where: { email: { startsWith: 'ops1' } } } }));
    const first = await handle.result();
    expect(first.kpis.sent).toBe(11); // ops1, ops10…ops19
    const events = (await handle.fetchHistory()).events ?? [];
    const sending = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendDelivery');
    const { runId } = await stack.client.workflowService.resetWorkflowExecution({
      namespace: 'default', workflowExecution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
      reason: 'ops reset to before the sending', requestId: randomUUID(),
      workflowTaskFinishEventId: sending!.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId,
    });
    const again = await stack.client.workflow.getHandle(handle.workflowId, runId!).result();
    expect(again).toMatchObject({ state: 'sent', kpis: { sent: 11 } });
    expect(stack.sink.messages.length - before).toBe(11); // the replayed sending found nothing pending

    // Reset to the very start: the preparation runs again as the same delivery (its chain's first run), and finds it.
    const firstTask = (await handle.fetchHistory()).events!.find((e) => e.workflowTaskCompletedEventAttributes)!;
    const fromStart = await stack.client.workflowService.resetWorkflowExecution({
      namespace: 'default', workflowExecution: { workflowId: handle.workflowId, runId }, reason: 'ops reset to the start',
      requestId: randomUUID(), workflowTaskFinishEventId: firstTask.eventId,
    });
    const third = await stack.client.workflow.getHandle(handle.workflowId, fromStart.runId!).result();
    expect(third).toMatchObject({ state: 'sent', kpis: { targeted: 11, sent: 11 } });
    expect(stack.sink.messages.length - before).toBe(11);
  }, 60_000);

  it('shows an ignored command where ops look, refuses it as an update with the reason, and hides progress from Send a Signal', async () => {
    const manual = await stack.start(baseSpec({ name: 'Ops: manual', approval: 'manual', trackingHours: 1, audience: { where: { email: 'ops2@example.com' } } }));
    await waitForState(manual, 'prepared');
    const waiting = await manual.query<Metadata>('__temporal_workflow_metadata');
    expect(waiting.currentDetails).toMatch(/^\*\*Waiting for confirm \(manual approval\); 1 to deliver\*\*/);
    expect(waiting.currentDetails).toContain('**Approval:** manual');
    expect(waiting.definition.signalDefinitions.map((d) => d.name).sort()).toEqual(['confirm', 'pause', 'proof', 'resume']);
    expect(waiting.definition.updateDefinitions.map((d) => d.name).sort()).toEqual(['chooseWinner', 'confirm', 'edit', 'pause', 'proof', 'resume']);

    await expect(manual.executeUpdate(pauseUpdate)).rejects.toThrow(WorkflowUpdateFailedError);
    const refused = await manual.executeUpdate(pauseUpdate).catch((e: Error) => (e.cause as Error).message);
    expect(refused).toBe('pause refused: the delivery is prepared; pause applies while sending');
    expect(await manual.executeUpdate(confirmUpdate)).toEqual({ command: 'confirm', applied: true, message: 'confirm applied: sending starts' });
    await waitForState(manual, 'sent');

    await manual.signal('confirm'); // as the Web UI's "Send a Signal" does: the server says "signaled"
    await eventually(async () => (await manual.query(statusQuery)).lastCommand?.applied === false, 10_000, 'the ignored confirm');
    const status: DeliveryStatus = await manual.query(statusQuery);
    expect(status.lastCommand).toMatchObject({ command: 'confirm', message: 'confirm ignored: the delivery is sent; confirm applies to a prepared delivery waiting for approval' });
    expect((await manual.query<Metadata>('__temporal_workflow_metadata')).currentDetails)
      .toMatch(/^\*\*Sent; collecting opens and clicks until \S+\*\*\n\nLast command: confirm ignored: the delivery is sent; confirm applies to a prepared delivery waiting for approval \(/);

    await manual.signal('progress', { phase: 'sending', sent: 'lots' }); // someone typing the name: ignored, logged
    await manual.signal('Confirm');
    const logs = await runCli(stack, ['logs', manual.workflowId]);
    expect(logs.stdout).toContain('A progress signal of the wrong shape was ignored');
    expect(logs.stdout).toContain('Unknown signal "Confirm" ignored');
    expect((await manual.query(statusQuery)).state).toBe('sent');
    await manual.cancel(); // ends its tracking period
  }, 60_000);

  it('lists deliveries newest first, by state and name, as a table and as JSON', async () => {
    const a = await stack.start(baseSpec({ name: 'List: spring news', approval: 'manual', audience: { where: { email: 'ops3@example.com' } } }));
    const b = await stack.start(baseSpec({ name: 'List: summer news', audience: { where: { email: 'ops4@example.com' } } }));
    await waitForState(a, 'prepared');
    await b.result();
    const json = await runCli(stack, ['list', '--json', '--name', 'list:']);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as DeliveryRow[];
    expect(rows.map((r) => [r.name, r.id, r.state, r.targeted, r.sent])).toEqual([
      ['List: summer news', b.workflowId, 'sent', 1, 1],
      ['List: spring news', a.workflowId, 'prepared', 1, 0],
    ]);
    const prepared = JSON.parse((await runCli(stack, ['list', '--json', '--state', 'prepared'])).stdout) as DeliveryRow[];
    expect(prepared.map((r) => r.id)).toContain(a.workflowId);
    expect(prepared.map((r) => r.id)).not.toContain(b.workflowId);
    const terminated = JSON.parse((await runCli(stack, ['list', '--json', '--state', 'terminated'])).stdout) as DeliveryRow[];
    expect(terminated.map((r) => r.name)).toEqual(['Ops: terminated']);
    const table = await runCli(stack, ['list', '--name', 'spring']);
    expect(table.stdout).toMatch(new RegExp(`List: spring news\\s+${a.workflowId}\\s+prepared`));
    expect(table.stdout.split('\n').filter(Boolean)).toHaveLength(3); // header, rule, one delivery
    // With the Web UI's address known (TEMPORAL_UI_URL), the same list in the Web UI, ready to open.
    const linked = await runCli(stack, ['list', '--state', 'prepared'], { TEMPORAL_UI_URL: 'http://ui.example:8080/' });
    expect(linked.stdout).toContain('In the Web UI: http://ui.example:8080/namespaces/default/workflows?query=' +
      encodeURIComponent('WorkflowType = "emailDelivery" AND DeliveryState = "prepared"'));
    const page2 = JSON.parse((await runCli(stack, ['list', '--json', '--name', 'list:', '--offset', '1', '--limit', '1'])).stdout) as DeliveryRow[];
    expect(page2.map((r) => r.id)).toEqual([a.workflowId]);
    expect((await runCli(stack, ['list', '--state', 'stuck'])).stderr).toContain('--state: unknown state "stuck"');

    const watch = await runCli(stack, ['watch', '--once']);
    expect(watch.stdout).toMatch(new RegExp(`List: spring news\\s+${a.workflowId}\\s+prepared`));
    expect(watch.stdout).not.toContain(b.workflowId); // ended: not running
    // Not on a terminal (a script, a log file): a line per running delivery every interval, where bars would print nothing.
    const lines = (await runCliFor(stack, ['watch', '--every', '1'], 3500)).stdout.split('\n').filter((l) => l.includes(a.workflowId));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ List: spring news \\(${a.workflowId}\\): prepared, sent 0, errors 0 of 1$`));
    await a.cancel();
  }, 60_000);
});
