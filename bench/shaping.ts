// `npm run bench:shaping -- [--limit 5] [--google 400] [--yahoo 1600] [--connections 5]`: traffic shaping over time.
// One delivery through the real stack (dev server, worker in this process, SQLite) to a relay that answers
// "421 4.7.28 unusual rate" to Google's recipients whenever it accepted --limit of them in the last second, and
// accepts Yahoo's at any rate. Prints, every 5 seconds: Google's attempts, accepted and refused a second, the engine's
// rate for Google (its DomainThrottle row), and Yahoo's accepted a second. Appends the summary to BENCHMARKS.md.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort, startDevServer } from '../stack/dev-server';
import { startSmtpServer } from '../stack/smtp-capture';
import { googleLimiter } from '../stack/throttling-relay';
import { temporalCliPath } from '../stack/temporal-cli';
import { migrate } from '../store/migrate';
import { openDatabase } from '../store/prisma';
import { profileAddressKey } from '../domain/address';
import { createDeliveryWorker } from '../worker/worker';
import { startDelivery } from '../client/deliveries';
import { BENCH_HTML } from './delivery';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '5' },
    google: { type: 'string', default: '400' },
    yahoo: { type: 'string', default: '1600' },
    connections: { type: 'string', default: '5' },
  },
});
const LIMIT = Number(values.limit);
const BUCKET_MS = 5000;

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `shaping-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const url = `file:${path.join(dir, 'bench.db')}`;
  await migrate(url);
  const db = await openDatabase(url);
  const emails = [
    ...Array.from({ length: Number(values.google) }, (_, i) => `g${i}@gmail.com`),
    ...Array.from({ length: Number(values.yahoo) }, (_, i) => `y${i}@yahoo.com`),
  ];
  await db.profile.createMany({ data: emails.map((email) => ({ email, addressKey: profileAddressKey(email) })) });

  const google = googleLimiter(LIMIT);
  const yahoo: number[] = [];
  const relay = await startSmtpServer({
    onMessage: () => undefined,
    refuseRecipient(address) {
      if (address.endsWith('@yahoo.com')) yahoo.push(Date.now());
      return google.refuseRecipient(address);
    },
  });
  const server = await startDevServer(temporalCliPath(), dir, await freePort(), 0, { headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const temporal = { address: server.address, namespace: 'default', taskQueue: 'shaping-bench' };
  const worker = await createDeliveryWorker({
    temporal, db, smtp: { url: relay.url, maxConnections: Number(values.connections) }, softErrorsBeforeQuarantine: 3,
    tracking: { baseUrl: 'http://localhost:8090', secret: 'bench-secret-0123456789' },
  });
  const running = worker.run();
  const engineRate: Array<{ at: number; rate: number | undefined }> = [];
  const sampler = setInterval(() => {
    void db.domainThrottle.findUnique({ where: { domain: 'google' } }).then((r) => engineRate.push({ at: Date.now(), rate: r?.messagesPerSecond }));
  }, 500);
  try {
    const t0 = Date.now();
    const handle = await startDelivery(client, temporal.taskQueue, {
      name: 'Shaping benchmark', from: 'Bench <bench@shop.example>', subject: 'Hello', html: BENCH_HTML, audience: { all: true }, trackingHours: 0,
    });
    const { kpis } = await handle.result();
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    const per = (times: number[], from: number) => (times.filter((t) => t >= from && t < from + BUCKET_MS).length / (BUCKET_MS / 1000)).toFixed(1);
    const lines = ['| t (s) | Google attempts/s | accepted/s | refused/s | engine rate for Google | Yahoo accepted/s |', '|---:|---:|---:|---:|---:|---:|'];
    for (let from = t0; from < Date.now(); from += BUCKET_MS) {
      const attempts = Number(per(google.attempts, from));
      const accepted = Number(per(google.accepted, from));
      const rate = engineRate.filter((r) => r.at >= from && r.at < from + BUCKET_MS).at(-1)?.rate;
      lines.push(`| ${(from - t0) / 1000} | ${attempts.toFixed(1)} | ${accepted.toFixed(1)} | ${(attempts - accepted).toFixed(1)} | ${rate === undefined ? 'free' : rate.toFixed(2)} | ${per(yahoo, from)} |`);
    }
    const after30 = google.attempts.filter((t) => t >= t0 + 30_000);
    const spanAfter30 = (Math.max(...google.attempts) - (t0 + 30_000)) / 1000;
    const summary = `${kpis.sent} sent (${values.google} Google, ${values.yahoo} Yahoo) in ${seconds.toFixed(0)} s; Google limited to ${LIMIT}/s by its relay: ` +
      `${google.attempts.length - google.accepted.length} throttled replies in all, ${(after30.length / Math.max(1, spanAfter30)).toFixed(2)} attempts/s from 30 s on; ` +
      `Yahoo's ${values.yahoo} accepted in ${((Math.max(...yahoo) - Math.min(...yahoo)) / 1000).toFixed(1)} s`;
    console.log(lines.join('\n'));
    console.log(summary);
    const note = `\n## Traffic shaping over time (${new Date().toISOString().slice(0, 10)}, \`npm run bench:shaping -- --limit ${LIMIT}\`)\n\n${summary}.\n\n${lines.join('\n')}\n`;
    fs.appendFileSync(path.resolve(__dirname, '..', 'BENCHMARKS.md'), note);
  } finally {
    clearInterval(sampler);
    worker.shutdown();
    await running;
    await connection.close();
    await server.stop();
    await relay.close();
    await db.$disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
