// The public Temporal contract of a delivery: workflow type, task queue, signals, queries and
// search attributes. Scripts, the CLI and ops (`temporal workflow signal|query`) rely on these names.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, type SignalDefinition, type UpdateDefinition } from '@temporalio/common';
import type { ExclusionCounts, Kpis, LogEntry } from '../domain/delivery';
import { SIGNAL_COMMANDS, type LifecycleStatus, type ProgressReport, type SignalCommand } from '../domain/lifecycle';
import type { DeliverySpecInput } from '../domain/spec';
import type { AbTestState } from '../domain/sending-plan';
import type { WaveStatus } from '../domain/waves';
import type { LocalTimeGroupStatus } from '../domain/local-time-plan';

export type { ProgressReport };

export const WORKFLOW_TYPE = 'emailDelivery';
export const DEFAULT_TASK_QUEUE = 'email-deliveries';

/**
 * Replace the delivery's content (a whole new spec) before sending starts: it is prepared again, and a
 * required proof must be sent again. Refused, with the reason, in other states or for an invalid spec.
 */
export const editUpdate = defineUpdate<void, [DeliverySpecInput]>('edit');
/**
 * Sent by the delivery's own activities, the tracking server and the bounce listener: totals read from the
 * database (not part of the public contract). The workflow takes it through its default signal handler, so the
 * Web UI's "Send a Signal" list does not offer it to ops; a report of the wrong shape is ignored and logged.
 */
export const progressSignal = defineSignal<[ProgressReport]>('progress');

/**
 * An A/B test's winner chosen by ops (`delivery choose-winner <id> B`, or the Web UI's update form): the rest of the
 * target gets it. Required when the test is manual or ended without a winner under ifNoWinner "wait"; before the
 * decision otherwise. Refused, with the reason, without a test, once decided, or for an unknown variant.
 */
export const chooseWinnerUpdate = defineUpdate<string, [string]>('chooseWinner');

/** The answer of a command given as an update: applied, with what it did (a refusal is the update's error). */
export interface CommandAnswer {
  command: SignalCommand;
  applied: true;
  message: string;
}

/**
 * The commands of the lifecycle's table given as signals (confirm, proof, pause, resume): applied or ignored, the
 * fate shown in the status query, the current details and the delivery log. The same commands as updates, for
 * scripts that want an answer: accepted (`CommandAnswer`) or refused with the reason ("confirm refused: the
 * delivery is sending; …"); a refused update leaves no trace in the history.
 */
export const COMMAND_SIGNALS = Object.fromEntries(SIGNAL_COMMANDS.map((c) => [c, defineSignal(c)])) as Record<SignalCommand, SignalDefinition<[], SignalCommand>>;
export const COMMAND_UPDATES = Object.fromEntries(SIGNAL_COMMANDS.map((c) => [c, defineUpdate<CommandAnswer>(c)])) as Record<SignalCommand, UpdateDefinition<CommandAnswer, [], SignalCommand>>;
export const { confirm: confirmSignal, proof: proofSignal, pause: pauseSignal, resume: resumeSignal } = COMMAND_SIGNALS;
export const { confirm: confirmUpdate, proof: proofUpdate, pause: pauseUpdate, resume: resumeUpdate } = COMMAND_UPDATES;

/** The last command a delivery received (signal or update) and its fate, as the status query and current details show it. */
export interface CommandFate {
  command: string;
  /** Workflow time it arrived (ISO). */
  at: string;
  applied: boolean;
  /** "confirm applied: sending starts", "confirm ignored: the delivery is sending; …". */
  message: string;
}

/** The state and what the lifecycle rules need (domain/lifecycle.ts), so a client judges commands as the workflow does. */
export interface DeliveryStatus extends LifecycleStatus {
  error?: string;
  /** Rows processed by the preparation so far (for progress bars). */
  preparedSoFar?: number;
  /**
   * Set when the engine paused the delivery by itself, until it is resumed: the cause and the fix, e.g.
   * "the relay refused our credentials (535 5.7.8 …): fix the user and password in SMTP_URL, then resume the delivery".
   */
  pausedBecause?: string;
  /** The last command and whether it was applied or why not. */
  lastCommand?: CommandFate;
  /** The situation in words, as the Web UI's current details lead with it. */
  situation?: string;
  /** Where the A/B test stands, with a test. */
  abTest?: AbTestState;
  /** Each wave, with waves: its messages, and whether it is sent, sending or waiting (and when it starts). */
  waves?: WaveStatus[];
  /** With the recipient's local time: the current step and its groups of time zones (when each goes, its messages). */
  localTime?: { step: string; groups: LocalTimeGroupStatus[] };
}
export const statusQuery = defineQuery<DeliveryStatus>('status');
export const kpisQuery = defineQuery<Kpis>('kpis');

export interface LogsPage {
  /** Index of the first entry returned (0 = first log of the delivery). */
  offset: number;
  total: number;
  entries: LogEntry[];
}
/** `logs` takes an optional { offset, limit }; newest last. Without arguments: the last 100 entries. */
export const logsQuery = defineQuery<LogsPage, [{ offset?: number; limit?: number }?]>('logs');

/** Exclusion counts by cause (To exclude = their sum). */
export interface ExclusionsReport {
  toExclude: number;
  byCause: ExclusionCounts;
}
export const exclusionsQuery = defineQuery<ExclusionsReport>('exclusions');

/** Custom search attributes, registered by the worker when the server lacks them. */
export const DELIVERY_STATE = defineSearchAttributeKey('DeliveryState', 'KEYWORD');
export const DELIVERY_NAME = defineSearchAttributeKey('DeliveryName', 'KEYWORD');
/** When sending starts: the contact date of a scheduled delivery, else when sending began. */
export const DELIVERY_CONTACT_DATE = defineSearchAttributeKey('DeliveryContactDate', 'DATETIME');
/**
 * Key counts, refreshed on each state change and at most every 15 s while they move (three: the dev
 * server's SQLite visibility store allows three Int attributes per namespace).
 */
export const DELIVERY_SENT = defineSearchAttributeKey('DeliverySent', 'INT');
export const DELIVERY_ERRORS = defineSearchAttributeKey('DeliveryErrors', 'INT');
export const DELIVERY_OPENS = defineSearchAttributeKey('DeliveryOpens', 'INT');
/** Who paused a delivery, set when it enters `paused`: `engine` (a relay fault, the failure-rate guard) or `ops`. */
export const DELIVERY_PAUSED_BY = defineSearchAttributeKey('DeliveryPausedBy', 'KEYWORD');
export const SEARCH_ATTRIBUTES = [
  DELIVERY_STATE, DELIVERY_NAME, DELIVERY_CONTACT_DATE, DELIVERY_SENT, DELIVERY_ERRORS, DELIVERY_OPENS, DELIVERY_PAUSED_BY,
];
