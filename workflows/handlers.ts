// The delivery's signals, update and queries. Each command is judged by the lifecycle rules
// (domain/lifecycle.ts), which the CLI applies too: an ignored command leaves a warning with the reason.
import * as wf from '@temporalio/workflow';
import { judgeCommand, kpisWithProgress, type DeliveryCommand } from '../domain/lifecycle';
import { parseDeliverySpec, type DeliverySpecInput } from '../domain/spec';
import { deliveryStatus, lifecycleStatus, log, MAX_LOGS, showCounts, type DeliveryContext } from './context';
import {
  confirmSignal, editUpdate, exclusionsQuery, kpisQuery, logsQuery, pauseSignal, progressSignal, proofSignal, resumeSignal, statusQuery,
} from './messages';

/** Checks a spec outside the sandbox (templates compile with Handlebars): the problems, none when usable. */
export type CheckSpec = (input: { spec: unknown }) => Promise<string[]>;

export function installHandlers(ctx: DeliveryContext, checkSpec: CheckSpec): void {
  /** Applies a command the lifecycle allows now, or logs why it is ignored. */
  const command = (name: DeliveryCommand, apply: () => void) => {
    const verdict = judgeCommand(name, lifecycleStatus(ctx));
    if (verdict.ok) apply();
    else log(ctx, 'warning', `${name} ignored: the delivery is ${verdict.reason}`);
  };

  wf.setHandler(statusQuery, () => deliveryStatus(ctx));
  wf.setHandler(kpisQuery, () => ctx.kpis);
  wf.setHandler(exclusionsQuery, () => ({ toExclude: ctx.preparation?.toExclude ?? 0, byCause: ctx.preparation?.exclusions ?? {} }));
  wf.setHandler(logsQuery, (page) => {
    const total = ctx.logOffset + ctx.logs.length;
    // The argument may come from the temporal CLI as any JSON: fall back to defaults on odd values.
    const limit = Math.min(wholeOr(page?.limit, 100), MAX_LOGS);
    const offset = Math.max(ctx.logOffset, wholeOr(page?.offset, total - limit));
    return { offset, total, entries: ctx.logs.slice(offset - ctx.logOffset, offset - ctx.logOffset + limit) };
  });

  wf.setHandler(confirmSignal, () => command('confirm', () => {
    ctx.confirmed = true;
    log(ctx, 'info', 'Sending confirmed');
  }));
  wf.setHandler(proofSignal, () => command('proof', () => {
    ctx.proofRequested = true;
  }));
  wf.setHandler(pauseSignal, () => command('pause', () => {
    ctx.paused = true;
    log(ctx, 'info', 'Pause requested');
  }));
  wf.setHandler(resumeSignal, () => command('resume', () => {
    ctx.paused = false;
    log(ctx, 'info', ctx.pausedBecause ? 'Resume requested: sending again after the engine paused the delivery' : 'Resume requested');
    ctx.pausedBecause = undefined;
  }));
  wf.setHandler(progressSignal, (report) => {
    if (report.phase === 'preparation') ctx.preparedSoFar = report.processed;
    ctx.kpis = kpisWithProgress(ctx.kpis, report, ctx.state);
    showCounts(ctx);
  });

  const editRefusal = () => {
    const verdict = judgeCommand('edit', lifecycleStatus(ctx));
    return verdict.ok ? undefined : `edit refused: the delivery is ${verdict.reason}`;
  };
  wf.setHandler(editUpdate, async (input: DeliverySpecInput) => {
    const problems = await checkSpec({ spec: input }); // the full validation: its problems include the schema's
    const parsed = parseDeliverySpec(input);
    if (problems.length || !parsed.ok) throw wf.ApplicationFailure.nonRetryable(`edit refused, the delivery is unchanged: ${problems.join('; ')}`, 'InvalidDeliverySpec');
    const refusal = editRefusal(); // the state may have moved while the spec was checked
    if (refusal) throw wf.ApplicationFailure.nonRetryable(refusal, 'WrongState');
    ctx.spec = parsed.spec;
    ctx.contentVersion++;
    log(ctx, 'info', `Content changed (version ${ctx.contentVersion}): the delivery is prepared again${ctx.spec.proof?.required ? ' and needs a new proof' : ''}`);
  }, {
    validator: (_input: DeliverySpecInput) => {
      const refusal = editRefusal();
      if (refusal) throw new Error(refusal);
    },
  });
}

function wholeOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : Math.max(0, fallback);
}
