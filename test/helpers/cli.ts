import { execFile } from 'node:child_process';
import path from 'node:path';
import type { TestStack } from './stack';
import { ROOT } from './paths';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `delivery` CLI (client/bin.js) against the test stack, as a user would. */
export function runCli(stack: TestStack, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'client', 'bin.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: stack.taskQueue, DATABASE_URL: stack.dbUrl },
    }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
