// `npx tsx bench/timeline.ts [--minutes 10] [--rate 2]`: one delivery sending for the given time at the given rate
// (messages/s) through the real stack (dev server, worker in this process, Postfix's smtp-sink), then counts its
// workflow history as ops see it in the Web UI's timeline: all events, and the progress signals among them.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort, startDevServer } from '../stack/dev-server';
import { temporalCliPath } from '../stack/temporal-cli';
import { migrate } from '../store/migrate';
import { openDatabase } from '../store/prisma';
import { seedNumberedProfiles } from '../store/profiles';
import { createDeliveryWorker } from '../worker/worker';
import { startDelivery } from '../client/deliveries';
import { benchDelivery } from './delivery';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '2' } } });
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `timeline-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const url = `file:${path.join(dir, 'bench.db')}`;
  await migrate(url);
  const db = await openDatabase(url);
  const n = Math.round(MINUTES * 60 * RATE);
  await seedNumberedProfiles(db, n, false);
  const sinkPort = await freePort();
  const sink = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', `127.0.0.1:${sinkPort}`, '100'], { stdio: 'ignore' });
  const server = await startDevServer(temporalCliPath(), dir, await freePort(), 0, { headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const temporal = { address: server.address, namespace: 'default', taskQueue: 'timeline-bench' };
  const worker = await createDeliveryWorker({
    temporal, db, smtp: { url: `smtp://127.0.0.1:${sinkPort}`, maxConnections: 2 }, softErrorsBeforeQuarantine: 3,
    tracking: { baseUrl: 'http://localhost:8090', secret: 'bench-secret-0123456789' },
  });
  const running = worker.run();
  try {
    const t = Date.now();
    const handle = await startDelivery(client, temporal.taskQueue, { ...benchDelivery(n), messagesPerSecond: RATE, trackingHours: 0 });
    const { kpis } = await handle.result();
    const seconds = (Date.now() - t) / 1000;
    let events = 0;
    let progress = 0;
    let runs = 0;
    // Every run of the delivery (continue-as-new starts another): the timeline ops page through.
    for (let runId: string | undefined = handle.firstExecutionRunId; runId; runs++) {
      const history = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      events += history.events?.length ?? 0;
      progress += history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'progress').length ?? 0;
      runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    console.log(`${kpis.sent} sent in ${(seconds / 60).toFixed(1)} min at ${RATE} msg/s: ${events} history events in ${runs} run(s), ` +
      `${progress} of them progress signals (${(progress / (seconds / 60)).toFixed(1)} a minute)`);
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await server.stop();
    sink.kill();
    await db.$disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
