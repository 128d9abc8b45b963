// A delivery worker: runs emailDelivery workflows and their activities on one task queue.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createMailer, type Mailer } from '../activities/mailer';
import type { Database } from '../store/prisma';
import type { TrackingSetup } from '../domain/message';
import type { TemporalConfig } from '../temporal/config';
import { ensureSearchAttributes } from './search-attributes';
import { progressSignals } from '../temporal/progress-signals';
import { reconcileClosedDeliveries } from '../temporal/reconcile';

/** A worker told to stop exits within this time (see stop_grace_period in docker-compose.yml). */
export const SHUTDOWN_FORCE = '25 seconds';

export interface DeliveryWorkerOptions {
  temporal: TemporalConfig;
  db: Database;
  smtp: { url: string; maxConnections: number };
  /** A prebuilt workflow bundle (tests, fast restarts); otherwise workflows/ is bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  progressEveryMs?: number;
  /** Soft failures of an address before it is quarantined. */
  softErrorsBeforeQuarantine: number;
  bounceDomain?: string;
  tracking: TrackingSetup;
  /** DKIM signing (the secret that opens the keys, the signing threads); absent: nothing is signed. */
  dkim?: { secret: string; threads?: number };
  /** Activities this worker runs at once (preparations and parallel senders); default 20. */
  maxConcurrentActivities?: number;
  /** How long a sending attempt waits for a failing database before it gives up (ms, default 10 minutes). */
  databaseRetryMs?: number;
  /** How often the worker looks for deliveries whose workflow Temporal terminated, to reconcile them (ms, default 1 minute). */
  reconcileEveryMs?: number;
}

export interface DeliveryWorker {
  worker: Worker;
  /** Runs until shutdown() (or a signal), then releases connections. */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createDeliveryWorker(options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const { temporal } = options;
  const clientConnection = await Connection.connect({ address: temporal.address });
  await ensureSearchAttributes(clientConnection, temporal.namespace);
  const client = new Client({ connection: clientConnection, namespace: temporal.namespace });
  const mailer: Mailer = createMailer(options.smtp);
  const signals = progressSignals(client); // waited for before the client closes
  const activities = createActivities({
    db: options.db,
    mailer,
    progressEveryMs: options.progressEveryMs,
    softErrorsBeforeQuarantine: options.softErrorsBeforeQuarantine,
    databaseRetryMs: options.databaseRetryMs,
    bounceDomain: options.bounceDomain,
    tracking: options.tracking,
    dkim: options.dkim,
    metrics: messageMetrics(),
    signalProgress: signals.send,
  });
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities,
    // Each running delivery holds one activity slot for its whole preparation or sending.
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 20,
    // Heartbeats reach the server at least every second, so pause/stop reach a sending activity fast.
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
    // On shutdown (SIGTERM of a deploy), running activities are cancelled at once ('WORKER_SHUTDOWN'): a sender
    // stops handing out messages, records those in flight, gives the others back and fails its attempt, which
    // Temporal retries on a live worker. Past SHUTDOWN_FORCE the worker gives up and exits, before an
    // orchestrator's kill (docker-compose's stop_grace_period is 30 s): what is in flight then is counted.
    shutdownGraceTime: 0,
    shutdownForceTime: SHUTDOWN_FORCE,
    // A worker that died holds its workflows' sticky task queue: fall back to the shared queue soon.
    stickyQueueScheduleToStartTimeout: '3 seconds',
  });
  // Terminate in the Web UI leaves a delivery's messages pending: a new run of it cancels them (temporal/reconcile.ts).
  let reconciling = false;
  const reconciler = setInterval(() => {
    if (reconciling) return;
    reconciling = true;
    reconcileClosedDeliveries(client.workflow, temporal.taskQueue)
      .then((ids) => ids.forEach((id) => console.log(`worker: delivery ${id} was terminated in Temporal: reconciled`)))
      .catch((e: Error) => console.error(`worker: reconciling terminated deliveries failed (tried again later): ${e.message}`))
      .finally(() => (reconciling = false));
  }, options.reconcileEveryMs ?? 60_000);
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        clearInterval(reconciler);
        mailer.close();
        await connection.close();
        await signals.close();
        await clientConnection.close();
      }
    },
    shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}

/** Counters exported with the SDK's metrics (Prometheus: rate(delivery_messages_sent[1m]) is messages/s). */
function messageMetrics() {
  const meter = Runtime.instance().metricMeter;
  return {
    sent: meter.createCounter('delivery_messages_sent', 'messages', 'Messages accepted by the SMTP relay'),
    failed: meter.createCounter('delivery_messages_failed', 'messages', 'Messages refused for good by the SMTP relay'),
    retried: meter.createCounter('delivery_messages_soft_failed', 'messages', 'Soft failures that will be retried'),
  };
}
