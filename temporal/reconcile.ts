// Deliveries whose workflow Temporal closed without our code: Terminate (one click from "Send a Signal" in the Web
// UI), `temporal workflow terminate`, a run timeout. Nothing of the delivery ran at that moment: its unsent messages
// stay pending and its state reads what it was. A new run of the same id reconciles it (workflows/phases.ts
// `reconcile`): the worker looks for such deliveries every minute, and `delivery status | stop | list` do it at once.
import { defaultPayloadConverter } from '@temporalio/common';
import { WorkflowExecutionAlreadyStartedError, type WorkflowClient, type WorkflowExecutionDescription } from '@temporalio/client';
import { FINAL_STATES, type DeliveryState } from '../domain/delivery';
import type { emailDelivery } from '../workflows';
import type { DeliveryRunOptions, Reconciliation } from '../workflows/delivery';
import { DELIVERY_CONTACT_DATE, DELIVERY_NAME, DELIVERY_STATE, WORKFLOW_TYPE } from '../workflows/messages';

const CLOSED_BY_TEMPORAL: Record<string, Reconciliation['closedAs']> = { TERMINATED: 'terminated', TIMED_OUT: 'timed out' };

/** Whether the delivery's last run was closed by Temporal while the delivery had not ended. */
export function needsReconciliation(d: WorkflowExecutionDescription): boolean {
  const state = d.typedSearchAttributes.get(DELIVERY_STATE) as DeliveryState | undefined;
  return d.type === WORKFLOW_TYPE && d.status.name in CLOSED_BY_TEMPORAL && !(state && FINAL_STATES.includes(state));
}

/**
 * Reconciles the delivery if its last run needs it, and waits for the result. True when this call (or another one
 * at the same moment) reconciled it; false when there was nothing to do.
 */
export async function reconcileDelivery(workflows: WorkflowClient, deliveryId: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
  const d = await workflows.getHandle(deliveryId).describe();
  if (!needsReconciliation(d)) return false;
  const events = (await workflows.getHandle(deliveryId, d.runId).fetchHistory()).events ?? [];
  const input = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const spec = input[0] ? defaultPayloadConverter.fromPayload(input[0]) : {};
  const previous = (input[1] ? defaultPayloadConverter.fromPayload(input[1]) : {}) as DeliveryRunOptions;
  const reason = events.at(-1)?.workflowExecutionTerminatedEventAttributes?.reason ?? undefined;
  const reconcile: Reconciliation = {
    runId: d.runId, closedAs: CLOSED_BY_TEMPORAL[d.status.name], at: (d.closeTime ?? new Date()).toISOString(), ...(reason ? { reason } : {}),
  };
  const name = d.typedSearchAttributes.get(DELIVERY_NAME) ?? deliveryId;
  const contactDate = d.typedSearchAttributes.get(DELIVERY_CONTACT_DATE);
  let handle;
  try {
    handle = await workflows.start<typeof emailDelivery>(WORKFLOW_TYPE, {
      taskQueue: d.taskQueue,
      workflowId: deliveryId,
      // Allowed after a terminated or timed-out run only: a delivery that ended by itself is never run again.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      args: [spec as never, { heartbeatTimeoutSeconds: previous.heartbeatTimeoutSeconds, retryMaxIntervalSeconds: previous.retryMaxIntervalSeconds, reconcile }],
      typedSearchAttributes: [
        { key: DELIVERY_STATE, value: 'terminated' }, { key: DELIVERY_NAME, value: name },
        ...(contactDate ? [{ key: DELIVERY_CONTACT_DATE, value: contactDate }] : []),
      ],
      staticSummary: `Delivery "${name}": reconciling after its workflow was ${reconcile.closedAs}`,
    });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    handle = workflows.getHandle<typeof emailDelivery>(deliveryId); // reconciled by someone else just now
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`The reconciliation of ${deliveryId} did not finish within ${timeoutMs / 1000} s: is a worker running?`)), timeoutMs);
  });
  try {
    await Promise.race([handle.result(), late]);
  } finally {
    clearTimeout(timer);
  }
  return true;
}

/** The deliveries of a task queue that Temporal closed while they ran, in the last week: the worker reconciles them. */
export async function reconcileClosedDeliveries(workflows: WorkflowClient, taskQueue: string): Promise<string[]> {
  const since = new Date(Date.now() - 7 * 24 * 3600_000).toISOString();
  const query = `WorkflowType = "${WORKFLOW_TYPE}" AND TaskQueue = "${taskQueue}" AND ExecutionStatus IN ("Terminated", "TimedOut") ` +
    `AND DeliveryState IN ("preparing", "prepared", "scheduled", "sending", "paused") AND CloseTime > "${since}"`;
  const ids = new Set<string>();
  for await (const w of workflows.list({ query })) ids.add(w.workflowId);
  const done: string[] = [];
  for (const id of ids) if (await reconcileDelivery(workflows, id)) done.push(id); // the last run of each id decides
  return done;
}
