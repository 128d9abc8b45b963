// Finds Temporal's time-skipping test server (installed from Maven Central into .tools/ when missing).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export function timeSkippingServerPath(): string {
  const script = path.join(__dirname, 'install-time-skipping.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}
