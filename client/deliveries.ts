// Programmatic client of deliveries: start with a validated spec, give commands with state checks, read status.
// The CLI, the embedded stack and the tests all go through here.
import { randomBytes } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { DeliverySpec } from '../domain/spec';
import { validateDeliverySpec } from '../domain/spec-problems';
import type { Kpis } from '../domain/delivery';
import { judgeCommand, type PlainCommand } from '../domain/lifecycle';
import { FINAL_STATES } from '../domain/delivery';
import { reconcileDelivery } from '../temporal/reconcile';
import type { emailDelivery } from '../workflows';
import type { DeliveryRunOptions } from '../workflows/delivery';
import { specFacts } from '../domain/situation';
import {
  chooseWinnerUpdate, COMMAND_UPDATES, editUpdate, exclusionsQuery, kpisQuery, logsQuery, statusQuery,
  DELIVERY_NAME, DELIVERY_STATE, WORKFLOW_TYPE, type DeliveryStatus, type ExclusionsReport, type LogsPage,
} from '../workflows/messages';
import { InputError } from './errors';

export type DeliveryHandle = WorkflowHandle<typeof emailDelivery>;
/** A delivery just started: its first run is known (later runs come from continue-as-new). */
export type StartedDelivery = WorkflowHandleWithFirstExecutionRunId<typeof emailDelivery>;

/** A valid spec, or an input error naming every problem (fields, templates, links, contact date): nothing starts. */
export function requireValidSpec(input: unknown): DeliverySpec {
  const verdict = validateDeliverySpec(input, new Date());
  if (!verdict.ok) throw new InputError(`Invalid delivery spec:\n  - ${verdict.problems.join('\n  - ')}`, 'INVALID_SPEC');
  return verdict.spec;
}

export function newDeliveryId(name: string): string {
  const slug = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'delivery';
  return `delivery-${slug}-${randomBytes(3).toString('hex')}`;
}

export async function startDelivery(
  client: Client, taskQueue: string, input: unknown, workflowId?: string, runOptions?: DeliveryRunOptions,
): Promise<StartedDelivery> {
  const spec = requireValidSpec(input);
  const id = workflowId ?? newDeliveryId(spec.name);
  try {
    return await client.workflow.start<typeof emailDelivery>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId: id,
      // A delivery id names one delivery for good: its links, bounces and logs must keep pointing to it.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: runOptions ? [spec, runOptions] : [spec],
      typedSearchAttributes: [
        { key: DELIVERY_STATE, value: 'preparing' },
        { key: DELIVERY_NAME, value: spec.name },
      ],
      staticSummary: `Delivery "${spec.name}"`,
      staticDetails: specFacts(spec).join('\n\n'),
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InputError(`the delivery id "${id}" is taken by an earlier delivery, whose records are kept: choose another --id (or none: one is generated)`, 'DELIVERY_ID_TAKEN');
    }
    throw e;
  }
}

/** How long a command given as an update waits for a worker to answer. */
const ANSWER_TIMEOUT_MS = 15_000;

/**
 * Judges the command by the lifecycle rules on the delivery's status (as the workflow will), then gives it as an
 * update: the workflow's answer ("confirm applied: sending starts") or its refusal (an InputError with the reason,
 * for a state that moved meanwhile). Stop is the workflow's cancellation.
 */
export async function sendCommand(client: Client, deliveryId: string, command: PlainCommand): Promise<string> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  const { status, reconciled } = await statusOf(handle, deliveryId);
  // Stopping a delivery whose workflow was terminated is what reconciling it did: say so, it is not a refusal.
  if (reconciled && command === 'stop') return `${status.situation ?? 'terminated'} (its workflow had been terminated in Temporal: reconciled now)`;
  const verdict = judgeCommand(command, status);
  if (!verdict.ok) throw new InputError(`Cannot ${command} delivery ${deliveryId}: it is ${verdict.reason}.`, 'WRONG_STATE');
  if (command === 'stop') {
    await handle.cancel();
    return 'stop requested: the sending in flight records what it sent, every unsent message is cancelled';
  }
  let timer: NodeJS.Timeout | undefined;
  const noAnswer = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No worker answered the ${command} within ${ANSWER_TIMEOUT_MS / 1000} s: is a worker running (npm run worker)? ` +
      'The command may still apply when one starts: check with "delivery status".')), ANSWER_TIMEOUT_MS);
  });
  try {
    return (await Promise.race([handle.executeUpdate(COMMAND_UPDATES[command]), noAnswer])).message;
  } catch (e) {
    if (e instanceof WorkflowUpdateFailedError) throw new InputError(`Cannot ${command} delivery ${deliveryId}: ${rootMessage(e)}.`, 'WRONG_STATE');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Replaces the content of a prepared or scheduled delivery (validated here, then by the workflow). */
export async function editDelivery(client: Client, deliveryId: string, input: unknown): Promise<void> {
  const spec = requireValidSpec(input);
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  await readStatus(handle, deliveryId);
  try {
    await handle.executeUpdate(editUpdate, { args: [spec] });
  } catch (e) {
    throw new InputError(`Cannot edit delivery ${deliveryId}: ${rootMessage(e)}`, 'EDIT_REFUSED');
  }
}

/** An A/B test's winner chosen by ops: the rest of the target gets it (refused with the workflow's reason). */
export async function chooseWinner(client: Client, deliveryId: string, variant: string): Promise<string> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  await readStatus(handle, deliveryId);
  try {
    return await handle.executeUpdate(chooseWinnerUpdate, { args: [variant] });
  } catch (e) {
    if (e instanceof WorkflowUpdateFailedError) throw new InputError(`Cannot choose the winner of delivery ${deliveryId}: ${rootMessage(e)}`, 'WRONG_STATE');
    throw e;
  }
}

export async function readExclusions(client: Client, deliveryId: string): Promise<ExclusionsReport> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  await readStatus(handle, deliveryId);
  return handle.query(exclusionsQuery);
}

function rootMessage(e: unknown): string {
  let cause = e as { cause?: unknown; message?: string } | undefined;
  while (cause?.cause) cause = cause.cause as typeof cause;
  return cause?.message ?? String(e);
}

export interface DeliverySnapshot {
  id: string;
  status: DeliveryStatus;
  kpis: Kpis;
}

export async function readSnapshot(client: Client, deliveryId: string): Promise<DeliverySnapshot> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  const status = await readStatus(handle, deliveryId);
  return { id: deliveryId, status, kpis: await handle.query(kpisQuery) };
}

export async function readLogs(client: Client, deliveryId: string, page: { offset?: number; limit?: number } = {}): Promise<LogsPage> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  await readStatus(handle, deliveryId);
  return handle.query(logsQuery, page);
}

async function readStatus(handle: DeliveryHandle, deliveryId: string): Promise<DeliveryStatus> {
  return (await statusOf(handle, deliveryId)).status;
}

/**
 * The delivery's status. A delivery that has not ended but whose workflow Temporal closed (terminated, timed out)
 * is reconciled first (temporal/reconcile.ts): the status is then the reconciling run's, `terminated`.
 */
async function statusOf(handle: DeliveryHandle, deliveryId: string): Promise<{ status: DeliveryStatus; reconciled: boolean }> {
  try {
    const status = await handle.query(statusQuery);
    if (FINAL_STATES.includes(status.state) || !(await reconcileDelivery(handle.client, deliveryId))) return { status, reconciled: false };
    return { status: await handle.query(statusQuery), reconciled: true };
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new InputError(`No delivery with id ${deliveryId}: check the id printed by "delivery start"`, 'NOT_FOUND');
    throw e;
  }
}
