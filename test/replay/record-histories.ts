// Records the histories the replay test replays: representative deliveries run on the real stack (Temporal
// dev server, worker with the real activities, SQLite, loopback SMTP). Run it when a workflow change is
// meant to be incompatible (behind a new workflow type or worker version), never to make a failing replay pass:
//   npm run replay:record            (wipes .data/test: not while jest runs in this checkout)
import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import globalSetup from '../helpers/global-setup';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { chooseWinner, editDelivery, readLogs, readSnapshot, sendCommand } from '../../client/deliveries';
import { WORKFLOW_TYPE } from '../../workflows/messages';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export const HISTORIES = path.join(__dirname, 'histories');

/** Every run of a delivery (continue-as-new makes several), first to last. */
async function runsOf(client: Client, workflowId: string, firstRunId: string): Promise<{ runId: string; json: string }[]> {
  const runs: { runId: string; json: string }[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    // The same JSON as `temporal workflow show --output json` (ops can add a production history the same way).
    runs.push({ runId, json: historyToJSON(history) });
    const last: HistoryEvent | undefined = history.events?.[history.events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

async function record(stack: TestStack, name: string, workflowId: string, firstRunId: string): Promise<void> {
  const runs = await runsOf(stack.client, workflowId, firstRunId);
  runs.forEach(({ json }, i) => {
    const file = path.join(HISTORIES, `${name}${runs.length > 1 ? `.run${i + 1}` : ''}.json`);
    fs.writeFileSync(file, json);
    console.log(`${path.relative(process.cwd(), file)}: ${(json.length / 1024).toFixed(0)} KB`);
  });
}

const logged = async (stack: TestStack, id: string, text: string) =>
  eventually(async () => (await readLogs(stack.client, id, { limit: 1000 })).entries.some((e) => e.message.includes(text)), 60_000, `log "${text}"`);

type Scenario = (stack: TestStack, hooks: { refusing: boolean }) => Promise<{ id: string; runId: string }>;

/** Pauses a delivery waiting for a step of its plan, past the step's time (a few seconds), then resumes it. */
async function pauseThroughItsTime(stack: TestStack, id: string): Promise<void> {
  await sendCommand(stack.client, id, 'pause');
  await eventually(async () => (await readSnapshot(stack.client, id)).status.state === 'paused');
  await new Promise((r) => setTimeout(r, 4000)); // past the step's time: it waits for resume
  await sendCommand(stack.client, id, 'resume');
}

async function localTimeScenario(stack: TestStack): Promise<{ id: string; runId: string }> {
  await stack.db.profile.updateMany({ where: { email: { in: ['user1@example.com', 'user2@example.com', 'user3@example.com'] } }, data: { country: 'JP' } });
  const due = Math.ceil((Date.now() + 6000) / 1000) * 1000;
  const d = await stack.start(baseSpec({ name: 'Replay: local time', timeZone: 'recipient', scheduleAt: new Date(due).toISOString().slice(0, 19), ifPassed: 'now' }));
  await d.result();
  return { id: d.workflowId, runId: d.firstExecutionRunId };
}

const SCENARIOS: Record<string, Scenario> = {
  /** Prepared, approved automatically, sent, no tracking period. */
  'auto-sent': async (stack) => {
    const d = await stack.start(baseSpec({ name: 'Replay: auto' }));
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** Manual approval with a required proof; paused and resumed while sending. */
  'manual-proof-pause-resume': async (stack) => {
    const d = await stack.start(baseSpec({
      name: 'Replay: manual', approval: 'manual', messagesPerSecond: 4, proof: { to: ['proof@shop.example'], required: true },
    }));
    await waitForState(d, 'prepared');
    await sendCommand(stack.client, d.workflowId, 'confirm'); // refused by the workflow: no proof yet
    await sendCommand(stack.client, d.workflowId, 'proof');
    await logged(stack, d.workflowId, 'Proof #1');
    await sendCommand(stack.client, d.workflowId, 'confirm');
    await eventually(async () => (await readSnapshot(stack.client, d.workflowId)).kpis.sent >= 3);
    await sendCommand(stack.client, d.workflowId, 'pause');
    await waitForState(d, 'paused');
    await sendCommand(stack.client, d.workflowId, 'resume');
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** A contact date an hour ahead, an edit while scheduled (prepared again), then stopped. */
  'scheduled-edit-stop': async (stack) => {
    const spec = baseSpec({ name: 'Replay: scheduled', scheduleAt: new Date(Date.now() + 3600_000).toISOString() });
    const d = await stack.start(spec);
    await waitForState(d, 'scheduled');
    await editDelivery(stack.client, d.workflowId, { ...spec, subject: 'Edited {{firstName}}' });
    await logged(stack, d.workflowId, 'Content changed');
    await waitForState(d, 'scheduled');
    await sendCommand(stack.client, d.workflowId, 'stop');
    await d.result().catch(() => undefined);
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** Soft failures retried at their retry time; the guard pauses the delivery and ops resume it. */
  'soft-retry-guard-resume': async (stack, hooks) => {
    const d = await stack.start(baseSpec({
      name: 'Replay: retries and guard', retries: { firstDelaySeconds: 2, maxDelaySeconds: 2, validitySeconds: 600 },
      guard: { maxHardFailureRate: 0.5, window: 10 },
    }));
    await waitForState(d, 'paused');
    hooks.refusing = false;
    await sendCommand(stack.client, d.workflowId, 'resume');
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** A long sending continues as new twice, then a short tracking period collects an open. */
  'continue-as-new-tracking': async (stack) => {
    const d = await stack.start(baseSpec({ name: 'Replay: continue-as-new', messagesPerSecond: 6, trackingHours: 0.003 }), { maxHistoryEvents: 40 });
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** An A/B test decided on its timer (no clicks: the best rate, ifNoWinner "best"), then the rest gets the winner. */
  'ab-test-timer': async (stack) => {
    const d = await stack.start(baseSpec({
      name: 'Replay: A/B test on its timer', variants: [{ name: 'A', subject: 'A {{firstName}}' }, { name: 'B', subject: 'B {{firstName}}' }],
      abTest: { percent: 50, winnerBy: 'clicks', decideAfter: '5s', minimumPerVariant: 1 },
    }));
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** An A/B test paused while it waits for its decision (patch pause-while-deciding), past its time, then resumed. */
  'ab-test-pause-while-deciding': async (stack) => {
    const d = await stack.start(baseSpec({
      name: 'Replay: A/B test paused while deciding', variants: [{ name: 'A', subject: 'A {{firstName}}' }, { name: 'B', subject: 'B {{firstName}}' }],
      abTest: { percent: 50, winnerBy: 'clicks', decideAfter: '3s', minimumPerVariant: 1 },
    }));
    await eventually(async () => (await readSnapshot(stack.client, d.workflowId)).status.abTest?.phase === 'deciding');
    await pauseThroughItsTime(stack, d.workflowId);
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** A manual A/B test: ops choose the winner (refused once for an unknown variant). */
  'ab-test-manual': async (stack) => {
    const d = await stack.start(baseSpec({
      name: 'Replay: manual A/B test', variants: [{ name: 'A', subject: 'A {{firstName}}' }, { name: 'B', subject: 'B {{firstName}}' }],
      abTest: { percent: 50, winnerBy: 'manual', decideAfter: '1h' },
    }));
    await eventually(async () => (await readSnapshot(stack.client, d.workflowId)).status.abTest?.phase === 'deciding');
    await chooseWinner(stack.client, d.workflowId, 'C').catch(() => undefined); // refused: unknown variant
    await chooseWinner(stack.client, d.workflowId, 'B');
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** An A/B test whose rest goes in 2 waves; ops pause between the waves and resume. */
  'waves-ab-pause': async (stack) => {
    const d = await stack.start(baseSpec({
      name: 'Replay: A/B test, then waves', variants: [{ name: 'A', subject: 'A {{firstName}}' }, { name: 'B', subject: 'B {{firstName}}' }],
      abTest: { percent: 50, winnerBy: 'clicks', decideAfter: '3s', minimumPerVariant: 1 }, waves: { count: 2, every: '3s' },
    }));
    await eventually(async () => (await readSnapshot(stack.client, d.workflowId)).status.waves?.[0]?.state === 'sent');
    await pauseThroughItsTime(stack, d.workflowId);
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** The recipient's local time: a zone whose time has passed goes at once, the other at its time a few seconds later. */
  'local-time': (stack) => localTimeScenario(stack),
  /** The same after the patch counts-after-each-round: each group's result upserts the counts (DeliverySent). */
  'local-time-counts': (stack) => localTimeScenario(stack),
  /** The best time per recipient, nobody with history: everyone at the contact date (one group), a holdout among them. */
  'best-time': async (stack) => {
    const d = await stack.start(baseSpec({ name: 'Replay: best time', sendTime: 'optimal', scheduleAt: new Date(Date.now() + 5000).toISOString() }));
    await d.result();
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
  /** The preparation refuses the spec (a link whose host is a profile field): failed, nothing sent. */
  'preparation-failed': async (stack) => {
    const d = await stack.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: stack.taskQueue, workflowId: `replay-failed-${Date.now()}`,
      args: [baseSpec({ name: 'Replay: failed', html: '<a href="{{attributes.site}}">x</a>' })],
    });
    await d.result().catch(() => undefined);
    return { id: d.workflowId, runId: d.firstExecutionRunId };
  },
};

async function main(): Promise<void> {
  await globalSetup();
  fs.mkdirSync(HISTORIES, { recursive: true });
  const only = process.argv.slice(2);
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    if (only.length && !only.includes(name)) continue;
    const hooks = { refusing: true };
    let soft = 0;
    const stack = await startTestStack({
      refuseRecipient: (address) => {
        if (name !== 'soft-retry-guard-resume') return undefined;
        if (address === 'user2@example.com' && soft++ < 2) return { code: 451, message: '4.2.1 Mailbox busy, try later' };
        return hooks.refusing && /^user1\d@/.test(address) ? { code: 550, message: '5.1.1 User unknown' } : undefined;
      },
    });
    try {
      await seedProfiles(stack.db, manyProfiles(name === 'continue-as-new-tracking' ? 40 : 20));
      const { id, runId } = await scenario(stack, hooks);
      await record(stack, name, id, runId);
    } finally {
      await stack.close();
    }
  }
}

if (require.main === module) {
  main().then(() => process.exit(0), (e) => {
    console.error(e);
    process.exit(1);
  });
}
