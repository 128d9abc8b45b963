// Once per test run: the Temporal CLI and the time-skipping test server, a migrated template database (`npm run db:migrate`'s code),
// a prebuilt workflow bundle shared by every worker the tests start, and the engine compiled (`npm run build`) for the
// worker and tracking processes they spawn.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import { temporalCliPath } from '../../stack/temporal-cli';
import { timeSkippingServerPath } from '../../stack/time-skipping';
import { migrate } from '../../store/migrate';
import { POSTGRES_TEMPLATE_DB, ROOT, TEMPLATE_DB, TEST_DATA, TEST_POSTGRES_URL, WORKFLOW_BUNDLE, postgresUrlFor } from './paths';

export default async function globalSetup(): Promise<void> {
  fs.rmSync(TEST_DATA, { recursive: true, force: true });
  fs.mkdirSync(TEST_DATA, { recursive: true });
  process.env.TEMPORAL_CLI_PATH = temporalCliPath();
  process.env.TIME_SKIPPING_SERVER_PATH = timeSkippingServerPath();
  if (TEST_POSTGRES_URL) {
    // Each test stack clones this database (CREATE DATABASE … TEMPLATE), which is much faster than migrating.
    const admin = new Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${POSTGRES_TEMPLATE_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${POSTGRES_TEMPLATE_DB}`);
    await admin.end();
    await migrate(postgresUrlFor(POSTGRES_TEMPLATE_DB));
  } else {
    await migrate(`file:${TEMPLATE_DB}`);
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  fs.writeFileSync(WORKFLOW_BUNDLE, code);
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};
