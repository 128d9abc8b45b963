// A/B tests on Temporal's time-skipping test server, with fake activities: the test population is sent first, the
// decision waits `decideAfter` on a durable timer, the verdict is the real one (domain/ab-test.ts) on counts the fake
// judge scripts, and only then does the rest go, with the winner. Manual choices, every ifNoWinner, a pause and a stop
// while the test is being decided.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { abVerdict, type VariantTally } from '../../domain/ab-test';
import type { PreparationResult, SendingResult } from '../../domain/delivery';
import { parseDeliverySpec, type DeliverySpec } from '../../domain/spec';
import type { emailDelivery } from '../../workflows';
import { chooseWinnerUpdate, COMMAND_SIGNALS, logsQuery, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages';
import { IDLE_ACTIVITIES, startTimeSkipping, type TimeSkipping } from '../helpers/time-skipping';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof emailDelivery>;
const HOUR = 3600_000;

let env: TestWorkflowEnvironment;
let server: TimeSkipping;
const taskQueue = `ab-${randomBytes(3).toString('hex')}`;
/** Every activity call, with the server's time: "send test", "judge", "winner B", "send all", "stop". */
let calls: Array<{ what: string; at: number }> = [];
/** What the fake judge counts for each variant. */
let tallies: VariantTally[] = [];

const totals = (sent: number): SendingResult => ({ sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, errorsByReason: {} });
const now = () => Context.current().info.currentAttemptScheduledTimestampMs;
const tally = (name: string, delivered: number, successes: number): VariantTally => ({ name, delivered, successes, hardBounces: 0, complaints: 0 });

beforeAll(async () => {
  server = await startTimeSkipping(taskQueue, {
    prepareDelivery: async (): Promise<PreparationResult> => ({ targeted: 2500, toDeliver: 2500, toExclude: 0, exclusions: {}, warnings: [], variants: { A: 500, B: 500 } }),
    sendDelivery: async ({ testOnly }: { testOnly?: boolean }): Promise<SendingResult> => {
      calls.push({ what: testOnly ? 'send test' : 'send all', at: now() });
      return totals(testOnly ? 1000 : 2500);
    },
    judgeAbTest: async ({ abTest }: { abTest: NonNullable<DeliverySpec['abTest']> }) => {
      calls.push({ what: 'judge', at: now() });
      return { tallies, verdict: abVerdict(tallies, abTest.minimumPerVariant, { maxHardBounceRate: 0.1, maxComplaintRate: 0.003 }) };
    },
    giveRestTheWinner: async ({ winner }: { winner: string }) => {
      calls.push({ what: `winner ${winner}`, at: now() });
      return { messages: 1500 };
    },
    stopDelivery: async () => {
      calls.push({ what: 'stop', at: now() });
      return { ...totals(1000), cancelled: 1500 };
    },
    ...IDLE_ACTIVITIES,
  });
  env = server.env;
});

afterAll(async () => server?.close());

beforeEach(() => {
  calls = [];
  tallies = [tally('A', 500, 15), tally('B', 500, 40)];
});

function start(abTest: Record<string, unknown> = {}, trackingHours = 0): Promise<Handle> {
  const spec = {
    name: 'A/B', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours,
    variants: [{ name: 'A', subject: 'Spring sale' }, { name: 'B', subject: 'Our spring sale' }],
    abTest: { percent: 40, winnerBy: 'clicks', decideAfter: '4h', minimumPerVariant: 100, ...abTest },
  };
  expect(parseDeliverySpec(spec).ok).toBe(true);
  return env.client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, {
    taskQueue, workflowId: `delivery-${randomBytes(4).toString('hex')}`, args: [spec as never, { heartbeatTimeoutSeconds: 1 }],
  });
}

const logs = async (handle: Handle) => (await handle.query(logsQuery, { limit: 1000 })).entries.map((e) => e.message);
const whats = () => calls.map((c) => c.what);
const at = (what: string) => calls.find((c) => c.what === what)!.at;

/** Polls the status until the test reaches a phase (time does not skip while the test is not waiting on a result). */
async function phase(handle: Handle, wanted: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await handle.query(statusQuery).catch(() => undefined))?.abTest?.phase === wanted) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the A/B test never reached ${wanted}`);
}

describe('A/B tests on durable timers (time-skipping server)', () => {
  it('sends the test population, decides by clicks 4 hours later, then sends the winner to the rest', async () => {
    const handle = await start();
    expect((await handle.result()).kpis).toMatchObject({ sent: 2500 });
    expect(whats()).toEqual(['send test', 'judge', 'winner B', 'send all']);
    expect(at('judge') - at('send test')).toBeGreaterThanOrEqual(4 * HOUR);
    expect(at('judge') - at('send test')).toBeLessThan(4 * HOUR + 60_000);
    expect((await handle.query(statusQuery)).abTest).toMatchObject({ phase: 'decided', winner: 'B', decision: expect.stringMatching(/^significant by clicks, p = /) });
    expect(await logs(handle)).toContainEqual(expect.stringMatching(/^A\/B test decided: variant "B" \(significant by clicks, p = .*\); 1500 remaining message\(s\) get it$/));
  });

  it('decides by opens the same way (the judge counts readers only: store/ab-tallies.ts, tested on both databases)', async () => {
    const handle = await start({ winnerBy: 'opens', decideAfter: '2d' });
    await handle.result();
    expect(whats()).toEqual(['send test', 'judge', 'winner B', 'send all']);
    expect(at('judge') - at('send test')).toBeGreaterThanOrEqual(48 * HOUR);
    expect((await handle.query(statusQuery)).abTest?.decision).toMatch(/^significant by opens, p = /);
  });

  it.each([
    ['best', 'winner B', /no significant difference: the best rate/],
    ['first', 'winner A', /no significant difference: the first variant/],
  ])('no significant difference: ifNoWinner "%s" gives the rest %s', async (ifNoWinner, winner, decision) => {
    tallies = [tally('A', 500, 15), tally('B', 500, 18)];
    const handle = await start({ ifNoWinner });
    await handle.result();
    expect(whats()).toEqual(['send test', 'judge', winner, 'send all']);
    expect((await handle.query(statusQuery)).abTest?.decision).toMatch(decision);
  });

  it('no significant difference and ifNoWinner "wait": the rest waits for choose-winner', async () => {
    tallies = [tally('A', 500, 15), tally('B', 500, 18)];
    const handle = await start({ ifNoWinner: 'wait' }, 1); // open for an hour of tracking once sent
    await phase(handle, 'deciding');
    expect((await handle.query(statusQuery)).situation).toMatch(/^Waiting until \S+: the A\/B test's winner is chosen then, and the rest of the target gets it \(/);
    for (let i = 0; i < 400 && !whats().includes('judge'); i++) await env.sleep(HOUR);
    expect((await logs(handle)).some((l) => /^A\/B test: no winner \(A: 15 of 500, B: 18 of 500\); waiting for choose-winner$/.test(l))).toBe(true);
    await env.sleep(48 * HOUR);
    expect(whats()).toEqual(['send test', 'judge']); // nothing more without ops
    expect((await handle.query(statusQuery)).situation).toMatch(/^Waiting: the A\/B test found no winner: choose-winner <variant> \(/);
    await expect(handle.executeUpdate(chooseWinnerUpdate, { args: ['C'] })).rejects.toMatchObject({ cause: { message: 'choose-winner refused: unknown variant "C": the variants are "A", "B"' } });
    expect(await handle.executeUpdate(chooseWinnerUpdate, { args: ['A'] })).toBe('variant "A" goes to the rest of the target');
    await phase(handle, 'decided');
    await expect(handle.executeUpdate(chooseWinnerUpdate, { args: ['B'] })).rejects.toMatchObject({ cause: { message: 'choose-winner refused: the test is decided already (variant "A")' } });
    await handle.result();
    expect(whats()).toEqual(['send test', 'judge', 'winner A', 'send all']);
  });

  it('a manual test is never judged: ops choose, and may do so before decideAfter', async () => {
    const handle = await start({ winnerBy: 'manual' });
    await phase(handle, 'deciding');
    await handle.executeUpdate(chooseWinnerUpdate, { args: ['A'] });
    await handle.result();
    expect(whats()).toEqual(['send test', 'winner A', 'send all']);
    expect((await handle.query(statusQuery)).abTest).toMatchObject({ winner: 'A', decision: 'chosen by ops' });
  });

  it('too few delivered per variant: the verdict waits for nobody, ifNoWinner decides', async () => {
    tallies = [tally('A', 50, 1), tally('B', 50, 9)];
    const handle = await start({ minimumPerVariant: 500 });
    await handle.result();
    expect(whats()).toEqual(['send test', 'judge', 'winner B', 'send all']);
    expect((await handle.query(statusQuery)).abTest?.decision).toBe('fewer than 500 delivered for A, B: the best rate (ifNoWinner "best")');
  });

  it('a stop while the test is being decided cancels the rest: no winner, nothing more sent', async () => {
    const handle = await start();
    await phase(handle, 'deciding');
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(whats()).toEqual(['send test', 'stop']);
  });

  it('a pause while the test waits for its decision shows at once and holds the verdict until resume', async () => {
    const handle = await start();
    await phase(handle, 'deciding');
    await handle.signal(COMMAND_SIGNALS.pause);
    for (let i = 0; i < 400 && (await handle.query(statusQuery)).state !== 'paused'; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await handle.query(statusQuery)).state).toBe('paused');
    await env.sleep(8 * HOUR);
    expect(whats()).toEqual(['send test']); // decideAfter passed long ago: no verdict without resume
    const resumedAt = Number(await env.currentTimeMs());
    await handle.signal(COMMAND_SIGNALS.resume);
    await handle.result();
    expect(whats()).toEqual(['send test', 'judge', 'winner B', 'send all']);
    expect(at('judge') - resumedAt).toBeLessThan(60_000);
    expect(await logs(handle)).toContain("Paused: the A/B test's decision waits for resume");
  });

  it('a winner chosen while paused is kept: the rest waits for resume', async () => {
    const handle = await start();
    await phase(handle, 'deciding');
    await handle.signal(COMMAND_SIGNALS.pause);
    for (let i = 0; i < 400 && (await handle.query(statusQuery)).state !== 'paused'; i++) await new Promise((r) => setTimeout(r, 25));
    await handle.executeUpdate(chooseWinnerUpdate, { args: ['A'] });
    await env.sleep(8 * HOUR);
    expect(whats()).toEqual(['send test', 'winner A']);
    expect((await handle.query(statusQuery)).state).toBe('paused');
    await handle.signal(COMMAND_SIGNALS.resume);
    await handle.result();
    expect(whats()).toEqual(['send test', 'winner A', 'send all']);
  });

  it('refuses choose-winner without a test', async () => {
    const spec = { name: 'Plain', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, trackingHours: 0, approval: 'manual' };
    const handle = await env.client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, { taskQueue, workflowId: `delivery-${randomBytes(4).toString('hex')}`, args: [spec as never] });
    await expect(handle.executeUpdate(chooseWinnerUpdate, { args: ['A'] })).rejects.toMatchObject({ cause: { message: 'choose-winner refused: the delivery has no A/B test' } });
    await handle.terminate();
  });
});
