// `npx tsx bench/audience.ts --profiles N [--database-url postgresql://…]`: an audience of four conditions (an
// attribute range, a list, a behaviour condition, a `not`) saved as a segment over N profiles: `segments count`
// on it, then the preparation activity (in this process) of a delivery targeting it. Prints both.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareActivity } from '../activities/prepare';
import type { Mailer } from '../activities/mailer';
import type { PreparationResult } from '../domain/delivery';
import { migrate } from '../store/migrate';
import { isPostgres, openDatabase } from '../store/prisma';
import { audienceCount, targetOf } from '../store/audience';
import { segments } from '../store/segments';
import { benchDelivery, emptyPostgres } from './delivery';
import { deliverySpecSchema } from '../domain/spec';

const { values } = parseArgs({ options: { profiles: { type: 'string', default: '1000000' }, 'database-url': { type: 'string' } } });
const N = Number(values.profiles);

/** ~86% of the profiles match: score 5…99 (95%), on the list (95%), received the last delivery (all), not in DE (95%). */
const CONDITION = {
  and: [
    { 'attributes.score': { between: [5, 99] } },
    { list: 'bench-news' },
    { received: { delivery: 'any', within: '30d' } },
    { not: { country: 'DE' } },
  ],
};

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `audience-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const url = values['database-url'] ?? `file:${path.join(dir, 'bench.db')}`;
  await migrate(url);
  const db = await openDatabase(url);
  const pg = isPostgres(db);
  if (pg) await emptyPostgres(db);
  let t = Date.now();
  // Profiles with a numeric score, a country (DE for 1 in 20), a list subscription (19 in 20) and a delivery received 2 days ago.
  const seq = pg ? `generate_series(1, ${N}) AS n` : `(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${N}) SELECT n FROM s)`;
  await db.$executeRawUnsafe(`INSERT INTO "Profile" ("email", "addressKey", "firstName", "country", "attributes")
    SELECT 'user' || n || '@example.com', 'user' || n || '@example.com', 'User' || n, CASE WHEN n % 20 = 0 THEN 'DE' ELSE 'FR' END, '{"score":' || (n % 100) || '}' FROM ${seq}`);
  const list = await db.list.create({ data: { name: 'bench-news' } });
  await db.$executeRawUnsafe(`INSERT INTO "ListSubscription" ("listId", "address", "status", "source")
    SELECT ${list.id}, "addressKey", 'subscribed', 'import' FROM "Profile" WHERE "id" % 20 <> 7`);
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000).toISOString();
  await db.$executeRawUnsafe(`INSERT INTO "SendingLog" ("deliveryId", "profileId", "email", "addressKey", "status", "sentAt")
    SELECT 'last-week', "id", "email", "addressKey", 'sent', ${pg ? `'${twoDaysAgo}'::timestamp` : `'${twoDaysAgo.replace('Z', '+00:00')}'`} FROM "Profile"`);
  if (pg) await db.$executeRawUnsafe('ANALYZE');
  console.log(`seeded ${N} profiles, list and sending logs in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  await segments(db).save('bench', CONDITION);
  t = Date.now();
  const count = await audienceCount(db, await targetOf(db, { where: { segment: 'bench' } }));
  console.log(`segments count: ${count.targeted} targeted, ${count.toDeliver} to deliver in ${((Date.now() - t) / 1000).toFixed(2)} s`);

  const noMailer: Mailer = { maxConnections: 1, send: () => Promise.reject(new Error('not sending')), close: () => undefined };
  const prepare = prepareActivity({
    db, mailer: noMailer, signalProgress: async () => undefined, softErrorsBeforeQuarantine: 3,
    tracking: { baseUrl: 'http://localhost:8090', secret: 'bench-secret-0123456789' },
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  t = Date.now();
  const spec = deliverySpecSchema.parse({ ...benchDelivery(N), audience: { where: { segment: 'bench' } } });
  const result: PreparationResult = await new MockActivityEnvironment().run(prepare, { deliveryId: 'bench', runKey: 'bench', spec });
  const seconds = (Date.now() - t) / 1000;
  clearInterval(sampler);
  console.log(`prepared ${result.toDeliver} of ${result.targeted} targeted in ${seconds.toFixed(1)} s: ${Math.round(result.targeted / seconds)} recipients/s ` +
    `(${Math.round(N / seconds)} profiles scanned/s); peak RSS ${Math.round(peakRss / 2 ** 20)} MB; count matches: ${count.targeted === result.targeted && count.toDeliver === result.toDeliver}`);
  await db.$disconnect();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
