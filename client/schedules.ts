// Recurring deliveries: a Temporal Schedule starts a new delivery workflow from a saved spec on a
// calendar. Each run is a separate delivery (its own id, KPIs and logs), listed like any other.
import { ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import type { emailDelivery } from '../workflows';
import { DELIVERY_NAME, DELIVERY_STATE, WORKFLOW_TYPE } from '../workflows/messages';
import { InputError } from './errors';
import { newDeliveryId, requireValidSpec } from './deliveries';
import type { DeliverySpec } from '../domain/spec';

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
  /** What happens when a run is due while the previous one still runs (default skip). */
  overlap?: OverlapChoice;
}

/**
 * skip (default): a run due while the previous one has not ended is skipped, so a worker outage of several
 * periods yields one late run, not a pile of runs sending the same content (whose preparations, run
 * together, would not see each other for the pressure rule). buffer-one: one waits. allow-all: every run starts.
 */
export const OVERLAP_CHOICES = {
  'skip': ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;
export type OverlapChoice = keyof typeof OVERLAP_CHOICES;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const INTERVAL = /^([1-9][0-9]*)(s|m|h|d)$/;

export async function createRecurringDelivery(client: Client, taskQueue: string, input: RecurringDelivery): Promise<string> {
  const spec = requireValidSpec(input.spec);
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
  const overlap = input.overlap ?? 'skip';
  if (!(overlap in OVERLAP_CHOICES)) throw new InputError(`--overlap "${overlap}" is not a policy: use ${Object.keys(OVERLAP_CHOICES).join(', ')}`, 'INVALID_SCHEDULE');
  const trackingSet = typeof input.spec === 'object' && input.spec !== null && 'trackingHours' in input.spec;
  const scheduleId = input.id ?? newDeliveryId(spec.name).replace(/^delivery-/, 'recurring-');
  const action = (args: DeliverySpec) => ({
    type: 'startWorkflow' as const,
    workflowType: WORKFLOW_TYPE,
    taskQueue,
    args: [args] as [DeliverySpec],
    // Temporal appends the run's time: recurring-weekly-news-…-2026-11-23T09:00:00Z.
    workflowId: scheduleId,
    typedSearchAttributes: [{ key: DELIVERY_STATE, value: 'preparing' }, { key: DELIVERY_NAME, value: spec.name }],
    staticSummary: `Delivery "${spec.name}" (recurring: ${scheduleId})`,
  });
  const note = `Recurring delivery "${spec.name}"`;
  try {
    // Created paused: its period is known once the server has computed the calendar's next times.
    const handle = await client.schedule.create<typeof emailDelivery>({
      scheduleId,
      spec: {
        cronExpressions: cron,
        intervals: every ? [{ every: every as `${number}${'s' | 'm' | 'h' | 'd'}` }] : [],
        timezone: input.timezone,
      },
      action: action(spec),
      policies: { overlap: OVERLAP_CHOICES[overlap] },
      state: { paused: true, note: `${note}: being set up` },
      // The calendar as the user wrote it (the server keeps cron expressions only in a structured form).
      memo: { deliveryName: spec.name, calendar: calendarText(cron, every, input.timezone), overlap },
    });
    const periodMs = shortestGap((await handle.describe()).info.nextActionTimes) ?? intervalMs(every);
    let runSpec = spec;
    if (periodMs !== undefined && overlap === 'skip') {
      // A run still collecting opens and clicks would hold back the next one: its tracking period ends before.
      const periodHours = periodMs / 3_600_000;
      if (trackingSet && spec.trackingHours >= periodHours) {
        await handle.delete();
        throw new InputError(`trackingHours: ${spec.trackingHours} h reaches the next run (every ${formatHours(periodHours)}), which would then be skipped; ` +
          'set trackingHours below the period, or choose --overlap allow-all', 'INVALID_SCHEDULE');
      }
      if (!trackingSet) runSpec = { ...spec, trackingHours: Math.min(spec.trackingHours, periodHours * 0.9) };
    }
    await handle.update((previous) => ({
      ...previous,
      action: action(runSpec),
      // Missed while the Temporal server was down: at most one period's worth is caught up.
      policies: { ...previous.policies, catchupWindow: Math.max(periodMs ?? 60_000, 60_000) },
      state: { ...previous.state, paused: false, note },
    }));
  } catch (e) {
    if (e instanceof InputError) throw e;
    const message = (e as Error).message;
    if (/already (exists|registered|running)/i.test(message)) throw new InputError(`a schedule "${scheduleId}" already exists; choose another --id or delete it first`, 'SCHEDULE_EXISTS');
    if (/invalid|cron|parse/i.test(message)) throw new InputError(`the calendar was refused: ${message}`, 'INVALID_SCHEDULE');
    throw e;
  }
  return scheduleId;
}

/** The shortest time between two of the calendar's next runs. */
function shortestGap(times: Date[]): number | undefined {
  const gaps = times.slice(1).map((t, i) => t.getTime() - times[i].getTime()).filter((g) => g > 0);
  return gaps.length ? Math.min(...gaps) : undefined;
}

function intervalMs(every: string | undefined): number | undefined {
  const m = every ? INTERVAL.exec(every) : null;
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

function formatHours(hours: number): string {
  return hours >= 1 ? `${Number(hours.toFixed(2))} h` : `${Math.round(hours * 3600)} s`;
}

export interface RecurringDeliveryRow {
  id: string;
  name: string;
  calendar: string;
  paused: boolean;
  /** What a run due while the previous one runs does (skip, buffer-one, allow-all). */
  overlap: string;
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
      overlap: String(s.memo?.overlap ?? 'allow-all'),
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

/** A manual run is refused this close to the next calendar run (or half the period, when shorter). */
export const TRIGGER_GUARD_MS = 10 * 60_000;

export async function commandRecurringDelivery(client: Client, id: string, command: ScheduleCommand, note?: string): Promise<void> {
  const handle = client.schedule.getHandle(id);
  let description: ScheduleDescription;
  try {
    description = await handle.describe();
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
  else if (command === 'trigger') {
    const overlap = description.policies.overlap;
    if (overlap !== ScheduleOverlapPolicy.ALLOW_ALL) {
      const refusal = triggerRefusal(description, new Date());
      if (refusal) throw new InputError(`${id}: no run started: ${refusal}`, 'SCHEDULE_BUSY');
    }
    // The schedule's own overlap policy, not ALLOW_ALL: a run started by hand never overlaps one of the calendar.
    await handle.trigger(overlap);
  } else await handle.delete();
}

/**
 * Why a run started by hand now would send the same content twice to the same people: a run in progress (its
 * sending or tracking period), or the calendar's next run due within the guard.
 */
export function triggerRefusal(d: Pick<ScheduleDescription, 'info' | 'state'>, now: Date): string | undefined {
  const running = d.info.runningActions.map((a) => a.workflow.workflowId);
  if (running.length) {
    return `a run is in progress (${running.join(', ')}): a second one would overlap it; wait for it to end (delivery status ${running[0]}), or stop it`;
  }
  const next = d.info.nextActionTimes[0];
  const period = shortestGap(d.info.nextActionTimes);
  const guard = Math.min(TRIGGER_GUARD_MS, period === undefined ? TRIGGER_GUARD_MS : period / 2);
  // A paused calendar runs nothing: a run by hand is then the only one.
  if (!d.state.paused && next && next.getTime() - now.getTime() < guard) {
    return `the next run is due at ${next.toISOString()} (in ${Math.max(0, Math.round((next.getTime() - now.getTime()) / 1000))} s): it will send the same content; ` +
      'wait for it, or pause the schedule and trigger once it has passed';
  }
  return undefined;
}
