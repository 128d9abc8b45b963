// `npm run worker`: one delivery worker configured by environment (see README).
import { Runtime } from '@temporalio/worker';
import { openDatabase } from '../store/prisma';
import { redactUrl } from '../activities/mailer';
import { smtpConfig, softErrorsBeforeQuarantine, temporalConfig } from './config';
import { createDeliveryWorker } from './worker';

async function main(): Promise<void> {
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const temporal = temporalConfig();
  const smtp = smtpConfig();
  const db = await openDatabase();
  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
  const worker = await createDeliveryWorker({
    temporal, db, smtp, softErrorsBeforeQuarantine: softErrorsBeforeQuarantine(),
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
  });
  console.log(`delivery worker: task queue "${temporal.taskQueue}" on ${temporal.address} (namespace ${temporal.namespace}), SMTP ${redactUrl(smtp.url)}`);
  await worker.run();
  await db.$disconnect();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
