// `npx tsx bench/prepare.ts --profiles N [--database-url postgresql://…] [--cpu-prof]`: the preparation
// activity alone, in this process (Temporal's MockActivityEnvironment gives it its context), on the
// benchmark's delivery. Prints recipients/s and the memory after it; with --cpu-prof, writes a CPU profile
// of the preparation only (not the seeding) for bench/profile-summary.ts.
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareActivity } from '../activities/prepare';
import type { PreparationResult } from '../domain/delivery';
import type { Mailer } from '../activities/mailer';
import { migrate } from '../store/migrate';
import { openDatabase } from '../store/prisma';
import { seedNumberedProfiles } from '../store/profiles';
import { benchDelivery, emptyPostgres } from './delivery';
import { deliverySpecSchema } from '../domain/spec';

const { values } = parseArgs({ options: { profiles: { type: 'string', default: '100000' }, 'database-url': { type: 'string' }, 'cpu-prof': { type: 'boolean', default: false } } });
const N = Number(values.profiles);

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '..', '.data', 'bench', `prepare-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  const url = values['database-url'] ?? `file:${path.join(dir, 'bench.db')}`;
  await migrate(url);
  const db = await openDatabase(url);
  if (!url.startsWith('file:')) await emptyPostgres(db);
  await seedNumberedProfiles(db, N, !url.startsWith('file:'));
  const noMailer: Mailer = { maxConnections: 1, send: () => Promise.reject(new Error('not sending')), close: () => undefined };
  const prepare = prepareActivity({
    db, mailer: noMailer, signalProgress: async () => undefined, softErrorsBeforeQuarantine: 3,
    tracking: { baseUrl: 'http://localhost:8090', secret: 'bench-secret-0123456789' },
  });
  const session = new Session();
  if (values['cpu-prof']) {
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.start');
  }
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  const started = Date.now();
  const result: PreparationResult = await new MockActivityEnvironment().run(prepare, { deliveryId: 'bench', runKey: 'bench', spec: deliverySpecSchema.parse(benchDelivery(N)) });
  const seconds = (Date.now() - started) / 1000;
  if (values['cpu-prof']) {
    const { profile } = await post(session, 'Profiler.stop') as { profile: object };
    fs.writeFileSync(path.join(dir, 'prepare.cpuprofile'), JSON.stringify(profile));
    console.log(`CPU profile: ${path.join(dir, 'prepare.cpuprofile')}`);
  }
  clearInterval(sampler);
  const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
  console.log(`prepared ${result.toDeliver} of ${result.targeted} in ${seconds.toFixed(1)} s (${Math.round(N / seconds)}/s); ` +
    `peak RSS ${mb(peakRss)}, heap used after ${mb(process.memoryUsage().heapUsed)}`);
  await db.$disconnect();
}

function post(session: Session, method: string): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, (err, result) => (err ? reject(err) : resolve(result))));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
