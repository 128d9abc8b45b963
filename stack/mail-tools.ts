// Postfix, SpamAssassin and dnsmasq for the deliverability tests: installed from Debian's packages when missing
// (stack/install-mail-tools.sh, as root), as the time-skipping server is installed when missing.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export function installMailTools(): void {
  execFileSync('bash', [path.join(__dirname, 'install-mail-tools.sh')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
}
