// The public Temporal contract of a delivery: workflow type, task queue, signals, queries and
// search attributes. Scripts, the CLI and ops (`temporal workflow signal|query`) rely on these names.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { ExclusionCounts, Kpis, LogEntry } from '../domain/delivery';
import type { LifecycleStatus, ProgressReport } from '../domain/lifecycle';
import type { DeliverySpecInput } from '../domain/spec';

export type { ProgressReport };

export const WORKFLOW_TYPE = 'emailDelivery';
export const DEFAULT_TASK_QUEUE = 'email-deliveries';

/** Manual approval: send the prepared delivery. */
export const confirmSignal = defineSignal('confirm');
/** Stop sending within seconds; `resume` continues exactly where it stopped. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Send the prepared delivery to its proof list (`proof.to` in the spec) as "Proof #N". */
export const proofSignal = defineSignal('proof');
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

/** The answer of a command given as an update: applied, with what it did (a refusal is the update's error). */
export interface CommandAnswer {
  command: DeliveryCommandName;
  applied: true;
  message: string;
}
export type DeliveryCommandName = 'confirm' | 'proof' | 'pause' | 'resume';
/**
 * The same commands as updates, for scripts that want an answer: accepted (`CommandAnswer`) or refused with the
 * reason ("confirm refused: the delivery is sending; …"); a refused update leaves no trace in the history.
 */
export const confirmUpdate = defineUpdate<CommandAnswer>('confirm');
export const proofUpdate = defineUpdate<CommandAnswer>('proof');
export const pauseUpdate = defineUpdate<CommandAnswer>('pause');
export const resumeUpdate = defineUpdate<CommandAnswer>('resume');

/** The last command a delivery received (signal or update) and its fate, as the status query and current details show it. */
export interface CommandOutcome {
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
  lastCommand?: CommandOutcome;
  /** The situation in words, as the Web UI's current details lead with it. */
  situation?: string;
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
