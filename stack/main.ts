// `npm start`: the embedded stack on a fresh machine. Temporal dev server (Web UI on 8233), the SQLite
// database, a local SMTP capture server writing .eml files, and a worker; then, on an empty database (or with
// --sample), a sample delivery with live progress. Keeps running until Ctrl-C (or exits with --once).
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { DATA_DIR, databaseUrl } from '../store/database-url';
import { openDatabase } from '../store/prisma';
import { migrate } from '../store/migrate';
import { countProfiles, insertProfiles } from '../store/profiles';
import { parseProfileCsv } from '../domain/profile-csv';
import { bounceConfig, dkimConfig, espWebhookConfig, metricsConfig, smtpConfig, softErrorsBeforeQuarantine, temporalConfig, trackingConfig } from '../temporal/config';
import { deliveriesLink, webUiUrl } from '../temporal/web-ui';
import { startTrackingServer } from '../tracking/server';
import { startBounceListener } from '../worker/bounce-listener';
import { createDeliveryWorker } from '../worker/worker';
import { startDelivery } from '../client/deliveries';
import { snapshotText } from '../client/format';
import { watchDelivery } from '../client/watch';
import { redactUrl } from '../activities/mailer';
import { verifyingSecrets } from '../domain/message';
import { startDevServer, type DevServer } from './dev-server';
import { startSmtpCapture, type RunningSmtpServer } from './smtp-capture';
import { temporalCliPath } from './temporal-cli';

const ROOT = path.resolve(__dirname, '..');
const OUTBOX = path.join(DATA_DIR, 'outbox');

async function main(): Promise<void> {
  const once = process.argv.includes('--once');
  const sampleAsked = process.argv.includes('--sample');
  const metrics = metricsConfig({ METRICS_PORT: '9464', ...process.env });
  Runtime.install({
    logger: new DefaultLogger('WARN'), shutdownSignals: [],
    ...(metrics.port !== undefined ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${metrics.port}` } } } } : {}),
  });
  // Stopped in the reverse order of their start: what uses the Temporal server (tracking, bounces, the worker)
  // before the server itself, so that nothing retries against a server that is gone.
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const shutdown = () => (stopping ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  })());
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));

  step('Database', databaseUrl().replace(/\/\/.*@/, '//***@'));
  await migrate();
  const db = await openDatabase();
  stops.push(() => db.$disconnect());

  const temporal = temporalConfig();
  let server: DevServer | undefined;
  if (!process.env.TEMPORAL_ADDRESS) {
    server = await startDevServer(temporalCliPath(), DATA_DIR);
    stops.push(() => server!.stop());
    temporal.address = server.address;
  }
  const ui = server?.uiUrl ?? webUiUrl();
  const uiUrl = ui ?? 'your Temporal Web UI (set TEMPORAL_UI_URL)';
  step('Temporal', `${temporal.address}, Web UI ${uiUrl}`);
  const deliveriesInUi = ui ? deliveriesLink(ui, temporal.namespace) : uiUrl;

  let capture: RunningSmtpServer | undefined;
  if (!process.env.SMTP_URL) {
    capture = await startSmtpCapture(OUTBOX);
    stops.push(() => capture!.close());
  }
  const smtp = smtpConfig();
  step('SMTP', capture ? `capture server ${smtp.url}, messages saved as .eml files in ${OUTBOX}` : redactUrl(smtp.url));

  const bounces = bounceConfig();
  const tracking = trackingConfig();
  const worker = await createDeliveryWorker({ temporal, db, smtp, softErrorsBeforeQuarantine: softErrorsBeforeQuarantine(), bounceDomain: bounces.domain, tracking, dkim: dkimConfig() });
  const running = worker.run();
  stops.push(async () => {
    worker.shutdown();
    await running;
  });
  step('Worker', `task queue "${temporal.taskQueue}"${metrics.port !== undefined ? `, Prometheus metrics http://127.0.0.1:${metrics.port}/metrics` : ''}`);

  const profilesBefore = await countProfiles(db);
  if (profilesBefore === 0) {
    const check = parseProfileCsv(fs.readFileSync(path.join(ROOT, 'examples', 'profiles.csv')));
    if (!check.ok) throw new Error(check.error);
    await insertProfiles(db, check.profiles);
    step('Profiles', `${check.profiles.length} sample profiles imported from examples/profiles.csv`);
  }

  const connection = await Connection.connect({ address: temporal.address });
  stops.push(() => connection.close());
  const client = new Client({ connection, namespace: temporal.namespace });
  const listener = await startBounceListener({
    db, client, port: bounces.port ?? 2526, host: bounces.host, softErrorsBeforeQuarantine: softErrorsBeforeQuarantine(), secret: verifyingSecrets(tracking),
  });
  stops.push(() => listener.close());
  step('Bounces', `DSN listener ${listener.url}`);
  const trackingServer = await startTrackingServer({ db, client, tracking, port: tracking.port, requestsPerSecond: tracking.requestsPerSecond,
    esp: espWebhookConfig(), softErrorsBeforeQuarantine: softErrorsBeforeQuarantine() });
  stops.push(() => trackingServer.close());
  step('Tracking', `${trackingServer.url} (opens, clicks, mirror page, unsubscribe; links point to ${tracking.baseUrl})`);
  const sample = sampleDecision(profilesBefore, sampleAsked);
  if (!sample.run) {
    step('Delivery', sample.why);
    console.log(`\nDeliveries in the Web UI: ${deliveriesInUi}\nCLI: npx delivery start <spec.json>, npx delivery list`);
    if (once) return shutdown();
    console.log('The stack keeps running. Ctrl-C to stop.');
    await running;
    return;
  }
  const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'delivery.json'), 'utf8')) as unknown;
  const handle = await startDelivery(client, temporal.taskQueue, spec);
  step('Delivery', `${handle.workflowId} started from examples/delivery.json`);
  console.log(`           ${uiUrl}/namespaces/${temporal.namespace}/workflows/${handle.workflowId}\n`);
  const snapshot = await watchDelivery(client, handle.workflowId);
  console.log(`\n${snapshotText(snapshot)}\n`);
  if (capture) {
    const files = fs.readdirSync(OUTBOX).filter((f) => f.endsWith('.eml')).sort();
    console.log(`${files.length} .eml files in ${OUTBOX}, e.g.:\n${files.slice(-3).map((f) => `  ${f}`).join('\n')}\n`);
  }
  console.log(`Deliveries in the Web UI: ${deliveriesInUi}\nCLI: npx delivery status|logs ${handle.workflowId}, npx delivery list`);
  console.log(`Tracking: links, pixel and unsubscribe of the messages go through ${tracking.baseUrl}; open an .eml in a mail ` +
    'client (or fetch its links) and the Opens and Clicks of the delivery move within seconds, during its tracking period.');
  if (once) {
    await shutdown();
    return;
  }
  console.log('The stack keeps running (start more deliveries with "npx delivery start <spec.json>"). Ctrl-C to stop.');
  await running;
}

/**
 * The sample delivery targets every profile: it runs on a database the stack has just filled with the sample
 * profiles, or when asked (--sample), never by surprise on someone's own list.
 */
export function sampleDecision(profilesBefore: number, asked: boolean): { run: true } | { run: false; why: string } {
  if (profilesBefore === 0 || asked) return { run: true };
  return {
    run: false,
    why: `no sample sent: the database already holds ${profilesBefore} profile(s), which examples/delivery.json would all target; ` +
      '"npm start -- --sample" sends it anyway',
  };
}

function step(what: string, detail: string): void {
  console.log(`${what.padEnd(10)} ${detail}`);
}

if (require.main === module) main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
