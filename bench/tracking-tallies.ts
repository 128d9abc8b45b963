// `npm run bench:tracking -- [--events 5000000] [--recipients 200000] [--database-url postgresql://…]`
// One delivery's tracking events written through the tracking store (the path the tracking server takes),
// then the KPI refresh the server runs twice a second timed: the incremental tallies it reads now, and the
// GROUP BY over every event it used to run. Prints the figures and appends them to BENCHMARKS.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { trackingCounts } from '../domain/delivery';
import { migrate } from '../store/migrate';
import { isPostgres, openDatabase } from '../store/prisma';
import { trackingEvents, type NewTrackingEvent } from '../store/tracking-events';
import { emptyPostgres } from './delivery';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '5000000' }, recipients: { type: 'string', default: '200000' }, 'database-url': { type: 'string' } },
});
const EVENTS = Number(values.events);
const RECIPIENTS = Number(values.recipients);
const LINKS = 10;
const CHUNK = 5000; // what the tracking server writes at once

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `tracking-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const url = values['database-url'] ?? `file:${path.join(dir, 'bench.db')}`;
  await migrate(url);
  const db = await openDatabase(url);
  if (!url.startsWith('file:')) await emptyPostgres(db);
  const store = trackingEvents(db);
  const deliveryId = 'bench-tracking';

  // Opens (60%) and clicks (40%) spread over the recipients and links; another delivery's events beside them.
  const written = performance.now();
  for (let n = 0; n < EVENTS; n += CHUNK) {
    const chunk: NewTrackingEvent[] = [];
    for (let i = n; i < Math.min(n + CHUNK, EVENTS); i++) {
      const click = i % 5 < 2;
      chunk.push({ deliveryId: i % 50 === 0 ? 'another-delivery' : deliveryId, sendingLogId: 1 + ((i * 7919) % RECIPIENTS), kind: click ? 'click' : 'open', linkId: click ? 1 + (i % LINKS) : 0, at: new Date() });
    }
    await store.record(chunk);
    if ((n / CHUNK) % 100 === 0) process.stdout.write(`\r${n.toLocaleString('en')} events written`);
  }
  const writeS = (performance.now() - written) / 1000;
  console.log(`\r${EVENTS.toLocaleString('en')} events written in ${writeS.toFixed(1)} s (${Math.round(EVENTS / writeS)}/s, tallies kept on the way)`);

  const refresh = async () => {
    const { tallies, clickers } = await store.tallies(deliveryId);
    return trackingCounts(tallies, clickers, (id) => `link ${id}`);
  };
  const timings: number[] = [];
  let counts = await refresh();
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    counts = await refresh();
    timings.push(performance.now() - t);
  }
  timings.sort((a, b) => a - b);
  const median = timings[Math.floor(timings.length / 2)];
  const p95 = timings[Math.floor(timings.length * 0.95)];

  // The refresh before the tallies: every event of the delivery grouped, twice a second.
  const t = performance.now();
  const [full] = await db.$queryRaw<Array<{ opens: bigint | number; total: bigint | number }>>`
    SELECT COUNT(DISTINCT "sendingLogId") AS "opens", COUNT(*) AS "total" FROM "TrackingEvent" WHERE "deliveryId" = ${deliveryId} AND "kind" = 'open'`;
  await db.$queryRaw`SELECT "kind", "linkId", COUNT(*), COUNT(DISTINCT "sendingLogId") FROM "TrackingEvent" WHERE "deliveryId" = ${deliveryId} GROUP BY "kind", "linkId"`;
  const groupByMs = performance.now() - t;
  if (Number(full.opens) !== counts.opens || Number(full.total) !== counts.totalOpens) {
    throw new Error(`tallies disagree with the events: opens ${counts.opens}/${full.opens}, total ${counts.totalOpens}/${full.total}`);
  }
  const database = isPostgres(db) ? 'Postgres' : 'SQLite';
  console.log(`KPI refresh from the tallies: median ${median.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms (opens ${counts.opens}, clicks ${counts.clicks}, ` +
    `${counts.totalOpens + counts.totalClicks} events of this delivery); GROUP BY over the events: ${groupByMs.toFixed(0)} ms; tallies match the events`);
  const row = `| ${new Date().toISOString().slice(0, 10)} | ${os.cpus().length} cores | ${database} | ${EVENTS} | ${RECIPIENTS} | ${Math.round(EVENTS / writeS)}/s | ` +
    `${median.toFixed(2)} ms | ${p95.toFixed(2)} ms | ${groupByMs.toFixed(0)} ms |\n`;
  const file = path.resolve(__dirname, '..', 'BENCHMARKS.md');
  const text = fs.readFileSync(file, 'utf8');
  const header = '## Tracking KPIs refresh (`npm run bench:tracking`)';
  fs.writeFileSync(file, text.includes(header) ? text.replace(/(## Tracking KPIs refresh[^\n]*\n(?:[^\n]*\n)*?\|---[^\n]*\n(?:\|[^\n]*\n)*)/, (table) => table + row)
    : `${text.trimEnd()}\n\n${header}\n\nOne delivery's events written through the tracking store in chunks of ${CHUNK} (60% opens, 40% clicks over ${LINKS} links, ` +
      'one event in 50 for another delivery), then the KPI refresh the tracking server runs for it timed 50 times; the last column is the ' +
      'GROUP BY over every event that the refresh ran before the incremental tallies.\n\n' +
      '| date | machine | database | events | recipients | write | refresh median | refresh p95 | GROUP BY before |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n' + row);
  await db.$disconnect();
  if (!url.startsWith('file:')) return;
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
