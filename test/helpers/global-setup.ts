// Once per test run: the Temporal CLI, a migrated template database (real `prisma migrate deploy`)
// and a prebuilt workflow bundle shared by every worker the tests start.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { temporalCliPath } from '../../stack/temporal-cli';
import { ROOT, TEMPLATE_DB, TEST_DATA, WORKFLOW_BUNDLE } from './paths';

export default async function globalSetup(): Promise<void> {
  fs.rmSync(TEST_DATA, { recursive: true, force: true });
  fs.mkdirSync(TEST_DATA, { recursive: true });
  process.env.TEMPORAL_CLI_PATH = temporalCliPath();
  execFileSync('npx', ['prisma', 'migrate', 'deploy'], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: `file:${TEMPLATE_DB}` }, stdio: 'ignore',
  });
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  fs.writeFileSync(WORKFLOW_BUNDLE, code);
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};
