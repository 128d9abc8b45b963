// An A/B test's phases: the test population is sent, the delivery waits `decideAfter` on a durable timer (ops may
// choose the winner meanwhile, or must when the test is manual), the verdict comes from an activity, and the rest of
// the target then gets the winner. Nothing per recipient here: the variants live in the sending logs.
import * as wf from '@temporalio/workflow';
import type { VariantTally } from '../domain/ab-test';
import { decideAfterMs, fallbackWinner } from '../domain/sending-plan';
import { hold, log, showDetails, type DeliveryContext } from './context';
import { chooseWinnerUpdate } from './messages';
import { sendStep } from './local-time';
import type { Activities } from './phases';
import { waitForPlan } from './plan-wait';

const PAUSE_WHILE_DECIDING = 'pause-while-deciding';

export async function runAbTest(ctx: DeliveryContext, acts: Activities): Promise<void> {
  const test = ctx.spec.abTest!;
  ctx.abTest ??= { phase: 'testing' };
  const ab = ctx.abTest;
  if (ab.phase === 'testing') {
    await sendStep(ctx, acts, 'test', { testOnly: true, firstPassOnly: true, opening: `Sending the A/B test population (${describeSplit(ctx)})` });
    ab.phase = 'deciding';
    ab.testSentAt = new Date().toISOString();
    log(ctx, 'info', `A/B test sent (${describeSplit(ctx)}); the winner is chosen ${test.winnerBy === 'manual' ? 'by ops (choose-winner)' : `at ${decideAt(ctx)}`}`);
    showDetails(ctx);
  }
  if (ab.phase === 'deciding') {
    await decide(ctx, acts);
    const { messages } = await acts.giveRestTheWinner({ deliveryId: ctx.deliveryId, winner: ab.winner! });
    ab.phase = 'decided';
    log(ctx, 'info', `A/B test decided: variant "${ab.winner}" (${ab.decision}); ${messages} remaining message(s) get it`);
    showDetails(ctx);
  }
}

async function decide(ctx: DeliveryContext, acts: Activities): Promise<void> {
  try {
    await decision(ctx, acts);
  } finally {
    hold(ctx, undefined);
  }
}

async function decision(ctx: DeliveryContext, acts: Activities): Promise<void> {
  const ab = ctx.abTest!;
  const test = ctx.spec.abTest!;
  const chosen = () => ab.winner !== undefined;
  if (test.winnerBy === 'manual') {
    hold(ctx, { because: 'the A/B test waits for its winner: choose-winner <variant>' });
    return wf.condition(chosen);
  }
  const because = "the A/B test's winner is chosen then, and the rest of the target gets it";
  if (wf.patched(PAUSE_WHILE_DECIDING)) {
    // A pause shows at once and holds the verdict until resume (running deliveries replay the wait without it).
    if (await waitForPlan(ctx, "the A/B test's decision", Date.parse(decideAt(ctx)), 'A/B test: winner chosen', { because, done: chosen })) return;
  } else {
    hold(ctx, { until: decideAt(ctx), because });
    if (await wf.condition(chosen, Math.max(0, Date.parse(decideAt(ctx)) - Date.now()), { summary: `A/B test: winner chosen at ${decideAt(ctx)}` })) return;
  }
  // Names and rules only: the variants' content stays out of the history.
  const { variants, guard, complaintGuard } = ctx.spec;
  const { tallies, verdict } = await acts.judgeAbTest({ deliveryId: ctx.deliveryId, variants: variants!.map((v) => v.name), abTest: test, guard, complaintGuard });
  if (chosen()) return; // ops chose while the counts were read
  ab.tallies = tallies;
  const outcome = verdict.kind === 'winner'
    ? { name: verdict.name, decision: `significant by ${test.winnerBy}, p = ${verdict.pValue.toPrecision(2)}` }
    : fallbackWinner(verdict, ctx.spec.variants!.map((v) => v.name), test);
  if (outcome) {
    ab.winner = outcome.name;
    ab.decision = outcome.decision;
    return;
  }
  log(ctx, 'warning', `A/B test: no winner (${describeTallies(tallies)}); waiting for choose-winner`);
  hold(ctx, { because: 'the A/B test found no winner: choose-winner <variant>' });
  await wf.condition(chosen);
}

/** choose-winner: ops pick the variant the rest gets, before the test is decided. */
export function installAbTestHandlers(ctx: DeliveryContext): void {
  const refusal = (name: string): string | undefined => {
    const names = ctx.spec.variants?.map((v) => v.name);
    if (!ctx.spec.abTest || !names) return 'the delivery has no A/B test';
    if (ctx.abTest?.phase === 'decided' || ctx.abTest?.winner !== undefined) return `the test is decided already (variant "${ctx.abTest.winner}")`;
    if (['stopped', 'failed', 'terminated', 'sent'].includes(ctx.state)) return `the delivery is ${ctx.state}`;
    if (!names.includes(name)) return `unknown variant "${name}": the variants are ${names.map((n) => `"${n}"`).join(', ')}`;
    return undefined;
  };
  wf.setHandler(chooseWinnerUpdate, (name: string) => {
    const reason = refusal(name);
    if (reason) throw wf.ApplicationFailure.nonRetryable(`choose-winner refused: ${reason}`, 'WrongState');
    ctx.abTest ??= { phase: 'testing' };
    ctx.abTest.winner = name;
    ctx.abTest.decision = 'chosen by ops';
    log(ctx, 'info', `A/B test: variant "${name}" chosen by ops`);
    showDetails(ctx);
    return `variant "${name}" goes to the rest of the target${ctx.abTest.phase === 'testing' ? ' once the test population is sent' : ''}`;
  }, {
    validator: (name: string) => {
      const reason = refusal(name);
      if (reason) throw new Error(`choose-winner refused: ${reason}`);
    },
  });
}

function decideAt(ctx: DeliveryContext): string {
  return new Date(Date.parse(ctx.abTest!.testSentAt!) + decideAfterMs(ctx.spec.abTest!)).toISOString();
}

function describeSplit(ctx: DeliveryContext): string {
  return Object.entries(ctx.preparation?.variants ?? {}).map(([name, n]) => `${name}: ${n}`).join(', ');
}

function describeTallies(tallies: VariantTally[]): string {
  return tallies.map((t) => `${t.name}: ${t.successes} of ${t.delivered}`).join(', ');
}
