// Finds the Temporal CLI (PATH first, then the project's own copy), installing it when missing.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export function temporalCliPath(): string {
  const script = path.join(__dirname, 'install-temporal.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}
