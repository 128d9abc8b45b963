// `npm run worker`: one delivery worker configured by environment (see README).
import { verifyingSecrets } from '../domain/message';
import { Runtime } from '@temporalio/worker';
import { openDatabase } from '../store/prisma';
import { redactUrl } from '../activities/mailer';
import { Client, Connection } from '@temporalio/client';
import { bounceConfig, databaseRetryMs, dkimConfig, maxConcurrentActivities, metricsConfig, smtpConfig, softErrorsBeforeQuarantine, temporalConfig, trackingConfig } from '../temporal/config';
import { createDeliveryWorker } from './worker';
import { startBounceListener, type BounceListener } from './bounce-listener';

async function main(): Promise<void> {
  const metrics = metricsConfig();
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    ...(metrics.port !== undefined ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${metrics.port}` } } } } : {}),
  });
  const temporal = temporalConfig();
  const smtp = smtpConfig();
  const db = await openDatabase();
  const bounces = bounceConfig();
  const quarantineAfter = softErrorsBeforeQuarantine();
  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
  const tracking = trackingConfig();
  const worker = await createDeliveryWorker({
    temporal, db, smtp, softErrorsBeforeQuarantine: quarantineAfter, bounceDomain: bounces.domain, tracking, dkim: dkimConfig(),
    maxConcurrentActivities: maxConcurrentActivities(), databaseRetryMs: databaseRetryMs(),
    progressEveryMs: process.env.PROGRESS_EVERY_MS ? Number(process.env.PROGRESS_EVERY_MS) : undefined,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
  });
  console.log(`delivery worker: task queue "${temporal.taskQueue}" on ${temporal.address} (namespace ${temporal.namespace}), SMTP ${redactUrl(smtp.url)}` +
    (metrics.port !== undefined ? `, Prometheus metrics on :${metrics.port}/metrics` : ''));
  let listener: BounceListener | undefined;
  let connection: Connection | undefined;
  if (bounces.port !== undefined) {
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: temporal.namespace });
    listener = await startBounceListener({ db, client, port: bounces.port, host: bounces.host, softErrorsBeforeQuarantine: quarantineAfter, secret: verifyingSecrets(tracking) });
    console.log(`bounce listener: ${listener.url}${bounces.domain ? `, VERP domain ${bounces.domain}` : ''}`);
  }
  await worker.run();
  await listener?.close();
  await connection?.close();
  await db.$disconnect();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
