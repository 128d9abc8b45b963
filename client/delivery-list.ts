// `delivery list` and `delivery watch`: the deliveries of this task queue, newest first, read from Temporal's
// visibility (name, state, contact date) and from each delivery's `kpis` query (counts and rates).
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { DELIVERY_STATES, FINAL_STATES, type Kpis } from '../domain/delivery';
import {
  DELIVERY_CONTACT_DATE, DELIVERY_ERRORS, DELIVERY_NAME, DELIVERY_PAUSED_BY, DELIVERY_SENT, DELIVERY_STATE, WORKFLOW_TYPE, kpisQuery,
} from '../workflows/messages';
import { InputError } from './errors';

/** A delivery's state as the list shows it: its own, or `terminated` when its workflow was terminated or timed out. */
export const LIST_STATES = [...DELIVERY_STATES, 'terminated'] as const;
export type ListState = (typeof LIST_STATES)[number];

export interface DeliveryRow {
  id: string;
  name: string;
  state: ListState;
  /** A paused delivery: paused by the engine (a relay fault, the failure-rate guard: a cause to fix) or by ops. */
  pausedBy?: 'engine' | 'ops';
  startedAt: string;
  contactDate?: string;
  targeted?: number;
  toDeliver?: number;
  sent: number;
  errors: number;
  openRate?: number;
  clickRate?: number;
  /** The `kpis` query did not answer (no worker running?): counts come from the search attributes only. */
  kpisUnavailable?: true;
}

export interface ListOptions {
  taskQueue: string;
  state?: string;
  /** Part of the name, any case. */
  name?: string;
  limit?: number;
  offset?: number;
  /** Only deliveries whose workflow runs (watch). */
  running?: boolean;
}

const STOPPED_BY_TEMPORAL = ['TERMINATED', 'TIMED_OUT'];
/** Runs read from Temporal for one listing (the newest ones when there are more). */
const SCANNED = 5000;

/** The visibility query: deliveries of the task queue (last run of each), by state when asked. */
export function listQuery(taskQueue: string, state?: string, running = false): string {
  const parts = [`WorkflowType = "${WORKFLOW_TYPE}"`, `TaskQueue = "${taskQueue}"`, running ? 'ExecutionStatus = "Running"' : 'ExecutionStatus != "ContinuedAsNew"'];
  // Reconciled (its own state) or not yet (a run Temporal closed): both forms; rows are then judged one by one.
  if (state === 'terminated') parts.push('(DeliveryState = "terminated" OR ExecutionStatus IN ("Terminated", "TimedOut"))');
  else if (state && FINAL_STATES.includes(state as never)) parts.push(`DeliveryState = "${state}"`);
  // A delivery in a running state whose workflow is gone (terminated) reads `terminated`, never `sending`.
  else if (state) parts.push(`DeliveryState = "${state}"`, 'ExecutionStatus = "Running"');
  return parts.join(' AND ');
}

/** The state a row shows: `terminated` for a run Temporal closed before the delivery ended (reconciled or not yet). */
function stateOf(w: WorkflowExecutionInfo): ListState {
  const own = (w.typedSearchAttributes.get(DELIVERY_STATE) ?? 'preparing') as ListState;
  return STOPPED_BY_TEMPORAL.includes(w.status.name) && !FINAL_STATES.includes(own as never) ? 'terminated' : own;
}

export async function listDeliveries(client: Client, options: ListOptions): Promise<DeliveryRow[]> {
  if (options.state !== undefined && !LIST_STATES.includes(options.state as ListState)) {
    throw new InputError(`--state: unknown state "${options.state}"; use one of ${LIST_STATES.join(', ')}`, 'INVALID_OPTION');
  }
  const limit = options.limit ?? 20;
  const offset = options.offset ?? 0;
  const wanted = options.name?.toLowerCase();
  // Temporal's SQL visibility lists running workflows first: the newest SCANNED are sorted here by start time.
  const last = new Map<string, WorkflowExecutionInfo>();
  let scanned = 0;
  for await (const w of client.workflow.list({ query: listQuery(options.taskQueue, options.state, options.running) })) {
    if (++scanned > SCANNED) break;
    // An id's last run decides (a reconciling run after a terminated one).
    const known = last.get(w.workflowId);
    if (!known || known.startTime < w.startTime) last.set(w.workflowId, w);
  }
  const found = [...last.values()]
    .filter((w) => (!options.state || stateOf(w) === options.state) && (!wanted || (w.typedSearchAttributes.get(DELIVERY_NAME) ?? '').toLowerCase().includes(wanted)))
    .sort((a, b) => b.startTime.getTime() - a.startTime.getTime())
    .slice(offset, offset + limit);
  return Promise.all(found.map((w) => deliveryRow(client, w)));
}

async function deliveryRow(client: Client, w: WorkflowExecutionInfo): Promise<DeliveryRow> {
  const sa = w.typedSearchAttributes;
  const row: DeliveryRow = {
    id: w.workflowId, name: sa.get(DELIVERY_NAME) ?? '', state: stateOf(w), startedAt: w.startTime.toISOString(),
    ...(stateOf(w) === 'paused' ? { pausedBy: sa.get(DELIVERY_PAUSED_BY) === 'engine' ? 'engine' as const : 'ops' as const } : {}),
    contactDate: sa.get(DELIVERY_CONTACT_DATE)?.toISOString(), sent: sa.get(DELIVERY_SENT) ?? 0, errors: sa.get(DELIVERY_ERRORS) ?? 0,
  };
  const kpis = await kpisOf(client, w.workflowId);
  if (!kpis) return { ...row, kpisUnavailable: true };
  return {
    ...row, targeted: kpis.targeted, toDeliver: kpis.toDeliver, sent: kpis.sent, errors: kpis.failed, openRate: kpis.openRate, clickRate: kpis.clickRate,
  };
}

/** The delivery's KPIs, or nothing when no worker answers within a few seconds. */
async function kpisOf(client: Client, id: string): Promise<Kpis | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 5000)));
  try {
    return await Promise.race([client.workflow.getHandle(id).query(kpisQuery), late]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
