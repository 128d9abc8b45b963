// Waves on Temporal's time-skipping test server, with fake activities: each wave claims up to its last id, the next
// waits `every` on a durable timer after it is sent, a pause between waves shows at once and holds the next wave, a
// stop between waves cancels the rest; with an A/B test the rest of the target goes in waves once the winner is known.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { PreparationResult, SendingResult } from '../../domain/delivery';
import { parseDeliverySpec } from '../../domain/spec';
import type { emailDelivery } from '../../workflows';
import { COMMAND_SIGNALS, logsQuery, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages';
import { IDLE_ACTIVITIES, startTimeSkipping, type TimeSkipping } from '../helpers/time-skipping';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof emailDelivery>;
const HOUR = 3600_000;
/** percent [5, 15, 30, 50] of 1,000 messages; with the A/B test, 200 of them are its population (ids spread out). */
const WAVES = [{ messages: 50, lastId: 50 }, { messages: 150, lastId: 200 }, { messages: 300, lastId: 500 }, { messages: 500, lastId: 1000 }];

let env: TestWorkflowEnvironment;
let server: TimeSkipping;
const taskQueue = `waves-${randomBytes(3).toString('hex')}`;
/** Every sending call: "wave ≤50", "all", "test", "winner B", "stop", with the server's time. */
let calls: Array<{ what: string; at: number }> = [];

const totals = (sent: number): SendingResult => ({ sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, errorsByReason: {} });
const now = () => Context.current().info.currentAttemptScheduledTimestampMs;
const sentUpTo = (upToId: number | undefined) => (upToId === undefined ? 1000 : upToId);

beforeAll(async () => {
  server = await startTimeSkipping(taskQueue, {
    prepareDelivery: async ({ spec }: { spec: { abTest?: unknown } }): Promise<PreparationResult> => ({
      targeted: 1000, toDeliver: 1000, toExclude: 0, exclusions: {}, warnings: [], waves: WAVES, ...(spec.abTest ? { variants: { A: 100, B: 100 } } : {}),
    }),
    sendDelivery: async ({ upToId, testOnly }: { upToId?: number; testOnly?: boolean }): Promise<SendingResult> => {
      calls.push({ what: testOnly ? 'test' : upToId === undefined ? 'all' : `wave ≤${upToId}`, at: now() });
      return totals(testOnly ? 200 : sentUpTo(upToId));
    },
    judgeAbTest: async () => ({ tallies: [], verdict: { kind: 'too early', short: ['A', 'B'], rates: { A: 0.01, B: 0.02 } } }),
    giveRestTheWinner: async ({ winner }: { winner: string }) => {
      calls.push({ what: `winner ${winner}`, at: now() });
      return { messages: 800 };
    },
    stopDelivery: async () => {
      calls.push({ what: 'stop', at: now() });
      return { ...totals(200), cancelled: 800 };
    },
    ...IDLE_ACTIVITIES,
  });
  env = server.env;
});

afterAll(async () => server?.close());
beforeEach(() => {
  calls = [];
});

function start(extra: Record<string, unknown> = {}): Promise<Handle> {
  const spec = {
    name: 'Waves', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours: 0,
    waves: { percent: [5, 15, 30, 50], every: '1h' }, ...extra,
  };
  expect(parseDeliverySpec(spec).ok).toBe(true);
  return env.client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, {
    taskQueue, workflowId: `delivery-${randomBytes(4).toString('hex')}`, args: [spec as never, { heartbeatTimeoutSeconds: 1 }],
  });
}

const whats = () => calls.map((c) => c.what);
const at = (what: string) => calls.find((c) => c.what === what)!.at;
const logs = async (handle: Handle) => (await handle.query(logsQuery, { limit: 1000 })).entries.map((e) => e.message);

/** Polls until a wave is sent (time does not skip while the test polls instead of waiting on a result: it moves it on). */
async function waveSent(handle: Handle, wave: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await handle.query(statusQuery).catch(() => undefined))?.waves?.[wave - 1]?.state === 'sent') return;
    if (wave > 1 && i % 10 === 9) await env.sleep(10 * 60_000);
    else await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`wave ${wave} was never sent`);
}

describe('waves on durable timers (time-skipping server)', () => {
  it('sends each wave up to its last id, the next one `every` after the previous is sent; the last sends what is left', async () => {
    const handle = await start();
    expect((await handle.result()).kpis).toMatchObject({ sent: 1000 });
    expect(whats()).toEqual(['wave ≤50', 'wave ≤200', 'wave ≤500', 'all']);
    for (const [a, b] of [['wave ≤50', 'wave ≤200'], ['wave ≤200', 'wave ≤500'], ['wave ≤500', 'all']]) {
      expect(at(b) - at(a)).toBeGreaterThanOrEqual(HOUR);
      expect(at(b) - at(a)).toBeLessThan(HOUR + 60_000);
    }
    const status = await handle.query(statusQuery);
    expect(status.waves?.map((w) => [w.wave, w.messages, w.state, w.sent])).toEqual([[1, 50, 'sent', 50], [2, 150, 'sent', 150], [3, 300, 'sent', 300], [4, 500, 'sent', 500]]);
    const lines = await logs(handle);
    expect(lines).toContain('Sending wave 1 of 4 (50 messages)');
    expect(lines).toContainEqual(expect.stringMatching(/^Wave 1 of 4 sent \(50 sent so far\); wave 2 starts at \S+$/));
    expect(lines).toContain('Sending wave 4 of 4 (500 messages)');
  });

  it('shows the next wave and its start while it waits', async () => {
    const handle = await start();
    await waveSent(handle, 1);
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('sending');
    expect(status.situation).toMatch(/^Waiting until \S+: wave 2 of 4 \(150 messages\) starts then/);
    expect(status.waves?.[1]).toMatchObject({ wave: 2, state: 'waiting', startsAt: expect.any(String) });
    await handle.terminate();
  });

  it('a pause between waves shows at once and holds the next wave past its time; resume sends it at once', async () => {
    const handle = await start();
    await waveSent(handle, 1);
    await handle.signal(COMMAND_SIGNALS.pause);
    for (let i = 0; i < 400 && (await handle.query(statusQuery)).state !== 'paused'; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await handle.query(statusQuery)).state).toBe('paused');
    await env.sleep(5 * HOUR);
    expect(whats()).toEqual(['wave ≤50']); // its hour passed long ago: still nothing without resume
    const resumedAt = await env.currentTimeMs();
    await handle.signal(COMMAND_SIGNALS.resume);
    await handle.result();
    expect(whats()).toEqual(['wave ≤50', 'wave ≤200', 'wave ≤500', 'all']);
    expect(at('wave ≤200') - Number(resumedAt)).toBeLessThan(60_000); // its time had come: at once
    expect(at('wave ≤500') - at('wave ≤200')).toBeGreaterThanOrEqual(HOUR);
    expect(await logs(handle)).toContain('Paused: wave 2 of 4 (150 messages) waits for resume');
  });

  it('a stop between waves cancels the rest: no later wave is sent', async () => {
    const handle = await start();
    await waveSent(handle, 2);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(whats()).toEqual(['wave ≤50', 'wave ≤200', 'stop']);
    expect((await handle.query(statusQuery)).state).toBe('stopped');
  });

  it('with an A/B test, the rest of the target goes in waves once the winner is known', async () => {
    const handle = await start({
      variants: [{ name: 'A', subject: 'a' }, { name: 'B', subject: 'b' }], abTest: { percent: 20, winnerBy: 'clicks', decideAfter: '4h' },
    });
    await handle.result();
    expect(whats()).toEqual(['test', 'winner B', 'wave ≤50', 'wave ≤200', 'wave ≤500', 'all']);
    expect(at('wave ≤50') - at('test')).toBeGreaterThanOrEqual(4 * HOUR);
    expect(await logs(handle)).toContain('Sending variant "B" to the rest of the target: wave 1 of 4 (50 messages)');
  });
});
