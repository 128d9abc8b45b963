// Replays the committed histories of real deliveries (test/replay/histories, recorded by
// `npm run replay:record`) against today's workflow code. A change that would make a running delivery
// take another path (an activity or timer added, removed or reordered, a search attribute upserted at
// another point) fails here, before it reaches a worker: see "Changing the workflow" in the README.
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { WORKFLOW_BUNDLE } from '../helpers/paths';

const HISTORIES = path.join(__dirname, 'histories');
const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).sort();

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  } catch {
    // installed by an earlier test file
  }
});

test('the committed histories cover the lifecycle (approval, proof, pause, schedule, edit, stop, retries, continue-as-new, failure)', () => {
  const events = new Set(files.flatMap((f) => (JSON.parse(fs.readFileSync(path.join(HISTORIES, f), 'utf8')) as History).events.map((e) => e.eventType)));
  for (const wanted of [
    'EVENT_TYPE_TIMER_FIRED', 'EVENT_TYPE_TIMER_CANCELED', 'EVENT_TYPE_ACTIVITY_TASK_CANCELED', 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED',
    'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW', 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED', 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED',
  ]) expect(events).toContain(wanted);
  expect(files.length).toBeGreaterThanOrEqual(6);
});

test.each(files)('%s replays on the current workflow code', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
  const results = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: WORKFLOW_BUNDLE }, replayName: file }, [{ workflowId: file, history }])) {
    results.push(result);
  }
  expect(results).toHaveLength(1);
  // A nondeterminism error names the event where the code and the history part ways.
  expect(results[0].error?.message ?? results[0].error).toBeUndefined();
});

interface History {
  events: { eventType: string }[];
}
