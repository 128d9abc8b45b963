// Programmatic client of deliveries: start with a validated spec, signal with state checks, read status.
// The CLI, the embedded stack and the tests all go through here.
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { DeliverySpec } from '../domain/spec';
import { validateDeliverySpec } from '../domain/spec-problems';
import type { Kpis } from '../domain/delivery';
import { judgeCommand, type DeliveryCommand as LifecycleCommand } from '../domain/lifecycle';
import type { emailDelivery } from '../workflows';
import type { DeliveryRunOptions } from '../workflows/delivery';
import {
  confirmSignal, editUpdate, exclusionsQuery, kpisQuery, logsQuery, pauseSignal, proofSignal, resumeSignal, statusQuery,
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
  const audience = 'all' in spec.audience ? 'all profiles' : `profiles where ${JSON.stringify(spec.audience.where)}`;
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
      staticDetails: [
        `**Subject:** ${spec.subject}`, `**Audience:** ${audience}`, `**Approval:** ${spec.approval}`,
        `**Contact date:** ${spec.scheduleAt ?? 'now'}`,
        spec.messagesPerSecond ? `**Rate cap:** ${spec.messagesPerSecond} messages/s` : '',
      ].filter(Boolean).join('\n\n'),
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InputError(`the delivery id "${id}" is taken by an earlier delivery, whose records are kept: choose another --id (or none: one is generated)`, 'DELIVERY_ID_TAKEN');
    }
    throw e;
  }
}

/** Commands of the CLI: the lifecycle's, but edit (which takes a spec: `editDelivery`). */
export type DeliveryCommand = Exclude<LifecycleCommand, 'edit'>;

/** Judges the command by the lifecycle rules on the delivery's status (as the workflow will), then gives it. */
export async function sendCommand(client: Client, deliveryId: string, command: DeliveryCommand): Promise<void> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  const verdict = judgeCommand(command, await readStatus(handle, deliveryId));
  if (!verdict.ok) throw new InputError(`Cannot ${command} delivery ${deliveryId}: it is ${verdict.reason}.`, 'WRONG_STATE');
  if (command === 'stop') await handle.cancel();
  else await handle.signal({ confirm: confirmSignal, proof: proofSignal, pause: pauseSignal, resume: resumeSignal }[command]);
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
  try {
    return await handle.query(statusQuery);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new InputError(`No delivery with id ${deliveryId}: check the id printed by "delivery start"`, 'NOT_FOUND');
    throw e;
  }
}
