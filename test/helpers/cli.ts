import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestStack } from './stack';
import { ROOT } from './paths';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `delivery` CLI (client/bin.js) against the test stack, as a user would. */
export function runCli(stack: TestStack, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'client', 'bin.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: stack.taskQueue, DATABASE_URL: stack.dbUrl, ERASURE_SECRET: stack.erasureSecret, DKIM_KEYS_SECRET: stack.dkimSecret, ...env },
    }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs a CLI command that goes on until interrupted (`watch`) for a while, then stops it as Ctrl-C would: what it printed. */
export function runCliFor(stack: TestStack, args: string[], ms: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [path.join(ROOT, 'client', 'bin.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: stack.taskQueue, DATABASE_URL: stack.dbUrl, ERASURE_SECRET: stack.erasureSecret, DKIM_KEYS_SECRET: stack.dkimSecret },
    }, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    setTimeout(() => child.kill('SIGINT'), ms);
  });
}

/** A temporary folder for the files a test hands to the CLI: `file(name, content)` returns its path. */
export function inputFiles(prefix: string): (name: string, content: string | Buffer) => string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return (name, content) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
}

/** Workflows started on the stack's task queue (bad input must start none). */
export async function workflowCount(stack: TestStack): Promise<number> {
  return (await stack.client.workflow.count(`TaskQueue = "${stack.taskQueue}"`)).count;
}
