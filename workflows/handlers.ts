// The delivery's signals, updates and queries. Each command is judged by the lifecycle rules
// (domain/lifecycle.ts), which the CLI applies too. A command given as a signal is applied or ignored, and its
// fate is shown where ops look (status query, current details, delivery log); given as an update, a refusal is
// the caller's error, with the same reason.
import * as wf from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { isProgressReport, judgeCommand, kpisWithProgress } from '../domain/lifecycle';
import { parseDeliverySpec, type DeliverySpecInput } from '../domain/spec';
import { deliveryStatus, lifecycleStatus, log, MAX_LOGS, showCounts, showDetails, type DeliveryContext } from './context';
import {
  confirmSignal, confirmUpdate, editUpdate, exclusionsQuery, kpisQuery, logsQuery, pauseSignal, pauseUpdate, progressSignal, proofSignal, proofUpdate,
  resumeSignal, resumeUpdate, statusQuery, type CommandAnswer, type CommandOutcome, type DeliveryCommandName,
} from './messages';

/** Checks a spec outside the sandbox (templates compile with Handlebars): the problems, none when usable. */
export type CheckSpec = (input: { spec: unknown }) => Promise<string[]>;

/** What each command does once the lifecycle allows it, and how its success reads. */
const APPLY: Record<DeliveryCommandName, (ctx: DeliveryContext) => string> = {
  confirm: (ctx) => {
    ctx.confirmed = true;
    log(ctx, 'info', 'Sending confirmed');
    return 'sending starts';
  },
  proof: (ctx) => {
    ctx.proofRequested = true;
    return `Proof #${ctx.proofsSent + 1} is being sent`;
  },
  pause: (ctx) => {
    ctx.paused = true;
    log(ctx, 'info', 'Pause requested');
    return 'sending stops within seconds';
  },
  resume: (ctx) => {
    ctx.paused = false;
    log(ctx, 'info', ctx.pausedBecause ? 'Resume requested: sending again after the engine paused the delivery' : 'Resume requested');
    ctx.pausedBecause = undefined;
    return 'sending goes on where it stopped';
  },
};

export function installHandlers(ctx: DeliveryContext, checkSpec: CheckSpec): void {
  const refusal = (name: DeliveryCommandName) => {
    const verdict = judgeCommand(name, lifecycleStatus(ctx));
    return verdict.ok ? undefined : `${name} ignored: the delivery is ${verdict.reason}`;
  };
  /** Applies a command the lifecycle allows now, or records why it is ignored; either way ops see it. */
  const command = (name: DeliveryCommandName): CommandOutcome => {
    const ignored = refusal(name);
    const message = ignored ?? `${name} applied: ${APPLY[name](ctx)}`;
    if (ignored) log(ctx, 'warning', ignored);
    ctx.lastCommand = { command: name, at: new Date().toISOString(), applied: !ignored, message };
    showDetails(ctx);
    return ctx.lastCommand;
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

  const commands: Array<[DeliveryCommandName, SignalDefinition, UpdateDefinition<CommandAnswer>]> = [
    ['confirm', confirmSignal, confirmUpdate], ['proof', proofSignal, proofUpdate], ['pause', pauseSignal, pauseUpdate], ['resume', resumeSignal, resumeUpdate],
  ];
  for (const [name, signal, update] of commands) {
    wf.setHandler(signal, () => void command(name));
    wf.setHandler(update, () => {
      const outcome = command(name); // the validator has just judged it: applied, unless that changed meanwhile
      if (!outcome.applied) throw wf.ApplicationFailure.nonRetryable(outcome.message.replace(' ignored:', ' refused:'), 'WrongState');
      return { command: name, applied: true as const, message: outcome.message };
    }, {
      // A refused update is not written to the history: the caller gets the reason, the delivery is unchanged.
      validator: () => {
        const ignored = refusal(name);
        if (ignored) throw new Error(ignored.replace(' ignored:', ' refused:'));
      },
    });
  }

  // Progress comes by the default handler: the Web UI's "Send a Signal" list offers the named handlers only.
  wf.setDefaultSignalHandler((name, ...args) => {
    if (name !== progressSignal.name) {
      log(ctx, 'warning', `Unknown signal "${name}" ignored: the delivery's commands are confirm, proof, pause and resume (stop: cancel the workflow)`);
      return;
    }
    const report = args[0];
    if (!isProgressReport(report)) {
      log(ctx, 'warning', 'A progress signal of the wrong shape was ignored: progress is sent by the engine, not by ops');
      return;
    }
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
