// The lifecycle of a delivery, as pure rules: its states and the moves between them, which command applies
// in which state (and, when it does not, the reason the workflow logs and the CLI prints), the approval and
// proof rules, and how progress reports move the KPIs. The workflow and the client both decide from here.
//
//   preparing → prepared (approval, proofs; an edit prepares again) → scheduled (contact date) → sending ⇄ paused
//   → sent (tracking period) | stopped (stop, i.e. workflow cancellation) | failed (critical error in the preparation)
//   terminated: the workflow was terminated (or timed out) in Temporal, where no code of ours runs; a new run of the
//   same id reconciles it (temporal/reconcile.ts, workflows/phases.ts) and starts in that state, so no move leads there.
import { FINAL_STATES as FINAL, kpisWithSending, kpisWithTracking, type DeliveryState, type Kpis, type PreparationResult, type SendingProgress, type TrackingCounts } from './delivery';

/** Where each state may lead (a preparation with nothing to deliver ends `sent` at once). */
export const TRANSITIONS: Readonly<Record<DeliveryState, readonly DeliveryState[]>> = {
  preparing: ['prepared', 'sent', 'stopped', 'failed'],
  prepared: ['preparing', 'scheduled', 'sending', 'stopped'],
  scheduled: ['preparing', 'sending', 'stopped'],
  sending: ['paused', 'sent', 'stopped'],
  paused: ['sending', 'stopped'],
  sent: [],
  stopped: [],
  failed: [],
  terminated: [],
};

export const canMove = (from: DeliveryState, to: DeliveryState): boolean => from === to || TRANSITIONS[from].includes(to);

/**
 * The commands ops give a delivery, defined once: how each is given (a signal with its update twin of the same
 * name, the workflow's cancellation, or the edit update that carries a spec) and what the CLI says it does. The
 * workflow's handlers, the contract's signals and updates, and the CLI's commands are all made from this table.
 */
export const COMMAND_TABLE = {
  confirm: { given: 'signal', help: 'approve a prepared delivery waiting for approval' },
  proof: { given: 'signal', help: 'send the prepared delivery to its proof list (proof.to) as "Proof #N"' },
  pause: { given: 'signal', help: 'pause sending (resume continues exactly where it stopped)' },
  resume: { given: 'signal', help: 'resume a paused delivery' },
  stop: { given: 'cancellation', help: 'stop for good: nothing more is sent, the delivery cannot be resumed' },
  edit: { given: 'update', help: 'replace the content of a prepared or scheduled delivery (it is prepared again)' },
} as const satisfies Record<string, { given: 'signal' | 'cancellation' | 'update'; help: string }>;

export type DeliveryCommand = keyof typeof COMMAND_TABLE;
export const COMMANDS = Object.keys(COMMAND_TABLE) as DeliveryCommand[];
/** Commands given as a signal (applied or ignored) or as the update of the same name (applied or refused). */
export type SignalCommand = { [K in DeliveryCommand]: (typeof COMMAND_TABLE)[K]['given'] extends 'signal' ? K : never }[DeliveryCommand];
export const SIGNAL_COMMANDS = COMMANDS.filter((c): c is SignalCommand => COMMAND_TABLE[c].given === 'signal');
/** Commands that take nothing but the delivery (edit takes a spec). */
export type PlainCommand = Exclude<DeliveryCommand, 'edit'>;
export const PLAIN_COMMANDS = COMMANDS.filter((c): c is PlainCommand => c !== 'edit');

/**
 * What the rules need to know about a delivery: the workflow's `status` query answers with it, so the
 * client judges a command exactly as the workflow will.
 */
export interface LifecycleStatus {
  state: DeliveryState;
  /** Prepared and waiting for `confirm` (manual approval, semi-automatic with warnings, or a required proof). */
  awaitingConfirm?: boolean;
  /** A proof of the current content must be sent before `confirm` is accepted. */
  proofMissing?: boolean;
  /** The spec has a proof list (`proof.to`). */
  proofList?: boolean;
  /** A pause was asked (by ops or by the engine) and the sending activity is still winding down. */
  pausing?: boolean;
  /** Sent and still collecting opens and clicks until then (ISO date): `stop` ends it early. */
  trackingUntil?: string;
}

/** A refusal's reason reads after "the delivery is " (workflow log) or "it is " (CLI): its state, then the rule. */
export type CommandVerdict = { ok: true } | { ok: false; reason: string };

const OK: CommandVerdict = { ok: true };

/**
 * A refusal in words, from its one reason: "pause ignored: the delivery is …" for a signal (logged, the command
 * has no caller to answer), "pause refused: the delivery is …" for an update or an edit (the caller's error).
 */
export function refusalText(command: DeliveryCommand, reason: string, as: 'ignored' | 'refused'): string {
  return `${command} ${as}: the delivery is ${reason}`;
}

/** Whether a command applies now; when it does not, why. */
export function judgeCommand(command: DeliveryCommand, s: LifecycleStatus): CommandVerdict {
  const refuse = (rule: string, situation: string = s.state): CommandVerdict => ({ ok: false, reason: `${situation}; ${rule}` });
  switch (command) {
    case 'confirm':
      if (s.state !== 'prepared') return refuse('confirm applies to a prepared delivery waiting for approval');
      if (!s.awaitingConfirm) return refuse('confirm applies to a prepared delivery waiting for approval', 'prepared and does not wait for approval');
      return s.proofMissing ? refuse('a proof of the current content is required first: send one with the proof command') : OK;
    case 'proof':
      if (s.state !== 'prepared') return refuse('proofs are sent while the delivery is prepared');
      return s.proofList ? OK : refuse('the spec has no proof list (proof.to): edit the delivery to add one');
    case 'pause':
      if (s.state === 'sending' && !s.pausing) return OK;
      return refuse('pause applies while sending', s.pausing ? 'sending and already pausing' : s.state);
    case 'resume':
      return s.state === 'paused' || (s.state === 'sending' && s.pausing) ? OK : refuse('resume applies to a paused delivery');
    case 'stop':
      if (s.state === 'sent' && s.trackingUntil) return OK; // ends the tracking period; the delivery stays sent
      return FINAL.includes(s.state) ? refuse('stop applies to a delivery that has not ended (or a sent one still collecting opens and clicks)') : OK;
    case 'edit':
      return s.state === 'prepared' || s.state === 'scheduled' ? OK : refuse('content can change only while it is prepared or scheduled');
  }
}

/** The approval and proof settings of a spec that the rules read. */
export interface ApprovalSettings {
  approval?: 'auto' | 'semi' | 'manual';
  proof?: { to: string[]; required?: boolean };
}

/** Whether a prepared delivery waits for `confirm`: manual approval, semi with warnings, or a required proof. */
export function awaitsConfirm(spec: ApprovalSettings, preparation: Pick<PreparationResult, 'warnings'>): boolean {
  return spec.approval === 'manual' || (spec.approval === 'semi' && preparation.warnings.length > 0) || spec.proof?.required === true;
}

/** A required proof is missing until one shows the current content version. */
export function proofMissing(spec: ApprovalSettings, contentVersion: number, proofOfVersion: number | undefined): boolean {
  return spec.proof?.required === true && proofOfVersion !== contentVersion;
}

/** A progress report: totals read from the database, so applying one twice or late is harmless. */
export type ProgressReport =
  | { phase: 'preparation'; processed: number }
  | ({ phase: 'sending' } & SendingProgress)
  /** Asynchronous feedback (bounces) after a message was sent. */
  | ({ phase: 'feedback' } & SendingProgress)
  /** Opens, clicks and unsubscriptions (sent by the tracking server). */
  | ({ phase: 'tracking' } & TrackingCounts);

/**
 * KPIs after a progress report. Sending totals count only while the delivery sends (a late report from a
 * stopped attempt must not undo the final counts), or as feedback once it is sent.
 */
export function kpisWithProgress(kpis: Kpis, report: ProgressReport, state: DeliveryState): Kpis {
  switch (report.phase) {
    case 'preparation':
      return kpis;
    case 'tracking':
      return kpisWithTracking(kpis, report);
    case 'feedback':
      return kpisWithSending(kpis, report);
    case 'sending':
      return state === 'sending' || state === 'paused' ? kpisWithSending(kpis, report) : kpis;
  }
}

const COUNTS_OF: Record<ProgressReport['phase'], readonly string[]> = {
  preparation: ['processed'],
  sending: ['sent', 'delivered', 'failed', 'possibleDuplicates', 'excludedAtSend'],
  feedback: ['sent', 'delivered', 'failed', 'possibleDuplicates', 'excludedAtSend'],
  tracking: ['opens', 'totalOpens', 'clicks', 'totalClicks', 'unsubscriptions', 'mirrorPageViews'],
};

/** Whether a signal's argument is a progress report the KPIs can take (anyone can send a signal by name). */
export function isProgressReport(x: unknown): x is ProgressReport {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  const counts = COUNTS_OF[r.phase as ProgressReport['phase']];
  if (!counts || !counts.every((c) => Number.isSafeInteger(r[c]) && (r[c] as number) >= 0)) return false;
  if (r.variants !== undefined && !areVariantCounts(r.variants, r.phase === 'tracking' ? ['opens', 'clicks'] : ['sent', 'delivered'])) return false;
  return r.phase !== 'tracking' || (typeof r.clicksByLink === 'object' && r.clicksByLink !== null);
}

/** { "A": { "sent": 10, "delivered": 9 }, … }: at most 8 variants, each with whole counts. */
function areVariantCounts(x: unknown, counts: string[]): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || Object.keys(x).length > 8) return false;
  return Object.values(x).every((v) => typeof v === 'object' && v !== null &&
    counts.every((c) => Number.isSafeInteger((v as Record<string, unknown>)[c]) && ((v as Record<string, number>)[c]) >= 0));
}
