// Programmatic client of deliveries: start with a validated spec, signal with state checks, read status.
// The CLI, the embedded stack and the tests all go through here.
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { DeliverySpec } from '../domain/spec';
import { judgeSpec } from '../domain/spec-problems';
import type { DeliveryState, Kpis } from '../domain/delivery';
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

/** Validates a spec (fields, templates, contact date) as the preparation will, before anything starts. */
export function validateSpec(input: unknown): DeliverySpec {
  const verdict = judgeSpec(input, new Date());
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
  const spec = validateSpec(input);
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

export type DeliveryCommand = 'confirm' | 'proof' | 'pause' | 'resume' | 'stop';

/** The states in which each command makes sense (the workflow ignores the others, with a warning log). */
const ALLOWED: Record<DeliveryCommand, DeliveryState[]> = {
  confirm: ['prepared'],
  proof: ['prepared'],
  pause: ['sending'],
  resume: ['paused'],
  stop: ['preparing', 'prepared', 'scheduled', 'sending', 'paused'],
};
const WHY: Record<DeliveryCommand, string> = {
  confirm: 'confirm applies to a prepared delivery waiting for approval',
  proof: 'proofs are sent while the delivery is prepared',
  pause: 'pause applies while sending',
  resume: 'resume applies to a paused delivery',
  stop: 'stop applies to a delivery that has not ended',
};

export async function sendCommand(client: Client, deliveryId: string, command: DeliveryCommand): Promise<void> {
  const handle = client.workflow.getHandle<typeof emailDelivery>(deliveryId);
  const { state } = await readStatus(handle, deliveryId);
  if (!ALLOWED[command].includes(state)) {
    throw new InputError(`Cannot ${command} delivery ${deliveryId}: it is ${state}; ${WHY[command]}.`, 'WRONG_STATE');
  }
  if (command === 'stop') await handle.cancel();
  else await handle.signal({ confirm: confirmSignal, proof: proofSignal, pause: pauseSignal, resume: resumeSignal }[command]);
}

/** Replaces the content of a prepared or scheduled delivery (validated here, then by the workflow). */
export async function editDelivery(client: Client, deliveryId: string, input: unknown): Promise<void> {
  const spec = validateSpec(input);
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
