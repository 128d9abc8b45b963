// The delivery's signals, updates and queries. Each command is judged by the lifecycle rules
// (domain/lifecycle.ts), which the CLI applies too. A command given as a signal is applied or ignored, and its
// fate is shown where ops look (status query, current details, delivery log); given as an update, a refusal is
// the caller's error, with the same reason.
import * as wf from '@temporalio/workflow';
import { isProgressReport, judgeCommand, kpisWithProgress, refusalText, SIGNAL_COMMANDS, type SignalCommand } from '../domain/lifecycle';
import { parseDeliverySpec, type DeliverySpecInput } from '../domain/spec';
import { deliveryStatus, lifecycleStatus, log, MAX_LOGS, showCounts, showDetails, type DeliveryContext } from './context';
import { judgeComplaints } from './phases';
import {
  COMMAND_SIGNALS, COMMAND_UPDATES, editUpdate, exclusionsQuery, kpisQuery, logsQuery, progressSignal, statusQuery, type CommandFate,
} from './messages';

/** Checks a spec outside the sandbox (templates compile with Handlebars): the problems, none when usable. */
export type CheckSpec = (input: { spec: unknown }) => Promise<string[]>;

/** What each command does once the lifecycle allows it, and how its success reads. */
const APPLY: Record<SignalCommand, (ctx: DeliveryContext) => string> = {
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
    if (ctx.complaintsTripped) {
      // Ops looked at the complaints and chose to go on: the breaker judges the complaints that come next.
      ctx.complaintBaseline = { complaints: ctx.kpis.complaints ?? 0, delivered: ctx.kpis.delivered };
      ctx.complaintsAcceptedAt = new Date().toISOString(); // the sender domain's breaker counts from here
      ctx.complaintsTripped = false;
    }
    return 'sending goes on where it stopped';
  },
};

export function installHandlers(ctx: DeliveryContext, checkSpec: CheckSpec): void {
  /** Why a command does not apply now (the lifecycle's one reason), or undefined when it does. */
  const refusal = (name: SignalCommand): string | undefined => {
    const verdict = judgeCommand(name, lifecycleStatus(ctx));
    return verdict.ok ? undefined : verdict.reason;
  };
  /** Applies a command the lifecycle allows now, or records why it is ignored; either way ops see it. */
  const command = (name: SignalCommand): CommandFate & { refusedBecause?: string } => {
    const reason = refusal(name);
    const message = reason === undefined ? `${name} applied: ${APPLY[name](ctx)}` : refusalText(name, reason, 'ignored');
    if (reason !== undefined) log(ctx, 'warning', message);
    ctx.lastCommand = { command: name, at: new Date().toISOString(), applied: reason === undefined, message };
    showDetails(ctx);
    return { ...ctx.lastCommand, refusedBecause: reason };
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

  for (const name of SIGNAL_COMMANDS) {
    wf.setHandler(COMMAND_SIGNALS[name], () => void command(name));
    wf.setHandler(COMMAND_UPDATES[name], () => {
      const fate = command(name); // the validator has just judged it: applied, unless that changed meanwhile
      if (fate.refusedBecause !== undefined) throw wf.ApplicationFailure.nonRetryable(refusalText(name, fate.refusedBecause, 'refused'), 'WrongState');
      return { command: name, applied: true as const, message: fate.message };
    }, {
      // A refused update is not written to the history: the caller gets the reason, the delivery is unchanged.
      validator: () => {
        const reason = refusal(name);
        if (reason !== undefined) throw new Error(refusalText(name, reason, 'refused'));
      },
    });
  }

  // Progress comes by the default handler: the Web UI's "Send a Signal" list offers the named handlers only.
  wf.setDefaultSignalHandler((name, ...args) => {
    if (name !== progressSignal.name) {
      log(ctx, 'warning', `Unknown signal "${name}" ignored: the delivery's commands are ${SIGNAL_COMMANDS.join(', ')} (stop: cancel the workflow)`);
      return;
    }
    const report = args[0];
    if (!isProgressReport(report)) {
      log(ctx, 'warning', 'A progress signal of the wrong shape was ignored: progress is sent by the engine, not by ops');
      return;
    }
    if (report.phase === 'preparation') ctx.preparedSoFar = report.processed;
    ctx.kpis = kpisWithProgress(ctx.kpis, report, ctx.state);
    judgeComplaints(ctx);
    showCounts(ctx);
  });

  const editRefusal = () => {
    const verdict = judgeCommand('edit', lifecycleStatus(ctx));
    return verdict.ok ? undefined : refusalText('edit', verdict.reason, 'refused');
  };
  wf.setHandler(editUpdate, async (input: DeliverySpecInput) => {
    const problems = await checkSpec({ spec: input }); // the full validation: its problems include the schema's
    const parsed = parseDeliverySpec(input);
    if (problems.length || !parsed.ok) throw wf.ApplicationFailure.nonRetryable(`edit refused, the delivery is unchanged: ${problems.join('; ')}`, 'InvalidDeliverySpec');
    const refusal = editRefusal(); // the state may have moved while the spec was checked
    if (refusal) throw wf.ApplicationFailure.nonRetryable(refusal, 'WrongState');
    ctx.spec = parsed.spec;
    ctx.contentVersion++;
    ctx.abTest = undefined; // a winner chosen before belongs to the old content
    ctx.waves = undefined;
    ctx.localTime = undefined;
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
