// Temporal's time-skipping test server (installed from Maven Central by stack/install-time-skipping.sh), with the
// delivery's search attributes, and a worker on it running the workflow bundle with the given (fake) activities.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { addSearchAttributes } from '../../worker/search-attributes';
import { WORKFLOW_BUNDLE } from './paths';

export interface TimeSkipping {
  env: TestWorkflowEnvironment;
  worker: Worker;
  close(): Promise<void>;
}

/** Fakes of the activities a test does not look at: a proof that went out, a spec without problems. */
export const IDLE_ACTIVITIES = {
  sendProof: async () => ({ sent: 1, failed: 0 }),
  checkSpec: async () => [] as string[],
};

export async function startTimeSkipping(taskQueue: string, activities: Record<string, (...args: never[]) => Promise<unknown>>): Promise<TimeSkipping> {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  } catch {
    // installed by an earlier test file
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: process.env.TIME_SKIPPING_SERVER_PATH! } } });
  await addSearchAttributes(env.connection, 'default');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: WORKFLOW_BUNDLE }, activities });
  const running = worker.run();
  return {
    env, worker,
    async close() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
