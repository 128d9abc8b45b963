// Recurring deliveries: a Temporal Schedule starts a new delivery workflow from a saved spec on a
// calendar. Each run is a separate delivery (its own id, KPIs and logs), listed like any other.
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { emailDelivery } from '../workflows';
import { DELIVERY_NAME, DELIVERY_STATE, WORKFLOW_TYPE } from '../workflows/messages';
import { InputError } from './errors';
import { newDeliveryId, validateSpec } from './deliveries';

export interface RecurringDelivery {
  /** Schedule id (default: derived from the delivery name). */
  id?: string;
  spec: unknown;
  /** Cron expressions ("0 9 * * MON": Mondays at 9:00). */
  cron?: string[];
  /** A fixed interval: "30m", "1h", "7d". */
  every?: string;
  /** IANA time zone of the cron expressions (default UTC). */
  timezone?: string;
}

const INTERVAL = /^([1-9][0-9]*)(s|m|h|d)$/;

export async function createRecurringDelivery(client: Client, taskQueue: string, input: RecurringDelivery): Promise<string> {
  const spec = validateSpec(input.spec);
  if (spec.scheduleAt) throw new InputError('scheduleAt: a recurring delivery starts at each time of its calendar; remove scheduleAt from the spec', 'INVALID_SPEC');
  const cron = input.cron ?? [];
  if (cron.length === 0 && !input.every) throw new InputError('give a calendar: --cron "<expression>" (e.g. "0 9 * * MON") and/or --every <interval> (e.g. 7d)', 'INVALID_SCHEDULE');
  const every = input.every?.trim();
  if (every !== undefined && !INTERVAL.test(every)) throw new InputError(`--every "${every}" is not an interval: use a number and a unit among s, m, h, d (e.g. 30m, 7d)`, 'INVALID_SCHEDULE');
  if (input.timezone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: input.timezone });
    } catch {
      throw new InputError(`--timezone "${input.timezone}" is not a time zone: use an IANA name such as Europe/Paris`, 'INVALID_SCHEDULE');
    }
  }
  const scheduleId = input.id ?? newDeliveryId(spec.name).replace(/^delivery-/, 'recurring-');
  try {
    await client.schedule.create<typeof emailDelivery>({
      scheduleId,
      spec: {
        cronExpressions: cron,
        intervals: every ? [{ every: every as `${number}${'s' | 'm' | 'h' | 'd'}` }] : [],
        timezone: input.timezone,
      },
      action: {
        type: 'startWorkflow',
        workflowType: WORKFLOW_TYPE,
        taskQueue,
        args: [spec],
        // Temporal appends the run's time: recurring-weekly-news-…-2026-11-23T09:00:00Z.
        workflowId: scheduleId,
        typedSearchAttributes: [{ key: DELIVERY_STATE, value: 'preparing' }, { key: DELIVERY_NAME, value: spec.name }],
        staticSummary: `Delivery "${spec.name}" (recurring: ${scheduleId})`,
      },
      // A run still in its tracking period must not hold back the next one: every run is its own delivery.
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
      state: { note: `Recurring delivery "${spec.name}"` },
      // The calendar as the user wrote it (the server keeps cron expressions only in a structured form).
      memo: { deliveryName: spec.name, calendar: calendarText(cron, every, input.timezone) },
    });
  } catch (e) {
    const message = (e as Error).message;
    if (/already (exists|registered|running)/i.test(message)) throw new InputError(`a schedule "${scheduleId}" already exists; choose another --id or delete it first`, 'SCHEDULE_EXISTS');
    if (/invalid|cron|parse/i.test(message)) throw new InputError(`the calendar was refused: ${message}`, 'INVALID_SCHEDULE');
    throw e;
  }
  return scheduleId;
}

export interface RecurringDeliveryRow {
  id: string;
  name: string;
  calendar: string;
  paused: boolean;
  next: string;
  lastRun: string;
}

export async function listRecurringDeliveries(client: Client): Promise<RecurringDeliveryRow[]> {
  const rows: RecurringDeliveryRow[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== WORKFLOW_TYPE) continue;
    rows.push({
      id: s.scheduleId,
      name: String(s.memo?.deliveryName ?? ''),
      calendar: String(s.memo?.calendar ?? ''),
      paused: s.state.paused,
      next: s.info.nextActionTimes[0]?.toISOString() ?? '',
      lastRun: s.info.recentActions.at(-1)?.action.workflow.workflowId ?? '',
    });
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

function calendarText(cron: string[], every: string | undefined, timezone: string | undefined): string {
  return [...cron.map((c) => `cron "${c}"${timezone ? ` (${timezone})` : ''}`), ...(every ? [`every ${every}`] : [])].join('; ');
}

export type ScheduleCommand = 'pause' | 'unpause' | 'trigger' | 'delete';

export async function commandRecurringDelivery(client: Client, id: string, command: ScheduleCommand, note?: string): Promise<void> {
  const handle = client.schedule.getHandle(id);
  try {
    const description = await handle.describe();
    if (description.action.type !== 'startWorkflow' || description.action.workflowType !== WORKFLOW_TYPE) {
      throw new InputError(`schedule "${id}" does not start deliveries; leave it to the temporal CLI`, 'NOT_A_DELIVERY_SCHEDULE');
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    if ((e as Error).name === 'ScheduleNotFoundError') throw new InputError(`no recurring delivery "${id}" (see "delivery schedule list")`, 'NOT_FOUND');
    throw e;
  }
  if (command === 'pause') await handle.pause(note ?? 'paused with "delivery schedule pause"');
  else if (command === 'unpause') await handle.unpause(note ?? 'resumed with "delivery schedule unpause"');
  else if (command === 'trigger') await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
  else await handle.delete();
}
