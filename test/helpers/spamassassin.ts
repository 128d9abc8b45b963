// SpamAssassin's verdict on a message (Debian's spamassassin package, its default rules), with the DKIM records it
// needs served by a private dnsmasq on loopback: DKIM_VALID is only given when the signature verifies against the
// published key. Blocklist lookups are off (nothing outside is reachable here), so only the message's own content,
// headers and signature score. `bash stack/install-mail-tools.sh` installs both.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import dgram from 'node:dgram';
import { installMailTools } from '../../stack/mail-tools';

const SPAMASSASSIN = '/usr/bin/spamassassin';
const DNSMASQ = '/usr/sbin/dnsmasq';

export interface SpamVerdict {
  score: number;
  tests: string[];
}

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A TXT value as DNS strings of at most 255 bytes (an RSA-2048 key does not fit in one). */
function txtStrings(value: string): string {
  return (value.match(/.{1,250}/g) ?? []).map((s) => `"${s}"`).join(',');
}

export async function spamVerdict(raw: Buffer | string, txtRecords: Array<{ name: string; value: string }>): Promise<SpamVerdict> {
  for (const tool of [SPAMASSASSIN, DNSMASQ]) {
    if (!fs.existsSync(tool) && process.getuid?.() === 0) installMailTools();
    if (!fs.existsSync(tool)) throw new Error(`${tool} is missing: run \`bash stack/install-mail-tools.sh\` (Debian packages postfix, spamassassin, dnsmasq-base)`);
  }
  const port = await freeUdpPort();
  const dns = spawn(DNSMASQ, [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`,
    '--pid-file=', '--user=root', ...txtRecords.map((r) => `--txt-record=${r.name},${txtStrings(r.value)}`),
  ], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const output = await new Promise<string>((resolve, reject) => {
      const child = execFile(SPAMASSASSIN, [
        '--cf', `dns_server 127.0.0.1:${port}`, '--cf', 'dns_available yes', '--cf', 'skip_rbl_checks 1',
        '--cf', 'use_razor2 0', '--cf', 'use_pyzor 0', '--cf', 'use_dcc 0', '--cf', 'rbl_timeout 2',
      ], { maxBuffer: 16 * 2 ** 20 }, (error, stdout) => (error && !stdout ? reject(error) : resolve(stdout)));
      child.stdin!.end(raw);
    });
    // X-Spam-Status: No, score=-0.1 required=5.0 tests=DKIM_SIGNED,DKIM_VALID,… autolearn=… version=…
    const headers = output.slice(0, output.search(/\r?\n\r?\n/));
    const status = /^X-Spam-Status: (.*(?:\r?\n[ \t].*)*)/m.exec(headers)?.[1].replace(/\s+/g, ' ');
    if (!status) throw new Error(`SpamAssassin gave no X-Spam-Status:\n${headers}`);
    const score = Number(/score=(-?[\d.]+)/.exec(status)?.[1]);
    // The folded header leaves a space after some commas.
    const tests = /tests=(.*?) (?:autolearn|version)=/.exec(status.replace(/, /g, ','))?.[1].split(',').filter((t) => t && t !== 'none') ?? [];
    return { score, tests };
  } finally {
    dns.kill();
  }
}
