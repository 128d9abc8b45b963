// A private Postfix instance on loopback (Debian's postfix package, started as root with its own configuration and
// queue in a temporary folder): it accepts mail on `port` and relays all of it to `relayTo`, as a site's outbound
// relay would. `bash stack/install-mail-tools.sh` installs the package.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../stack/dev-server';
import { installMailTools } from '../../stack/mail-tools';

export const POSTFIX = '/usr/sbin/postfix';

export interface PostfixRelay {
  port: number;
  /** Postfix's own log (maillog_file): what it did with each message. */
  log(): string;
  stop(): Promise<void>;
}

function requireInstalled(): void {
  if (!fs.existsSync(POSTFIX) && process.getuid?.() === 0) installMailTools();
  if (!fs.existsSync(POSTFIX)) throw new Error('Postfix is not installed: run `bash stack/install-mail-tools.sh` (Debian packages postfix, spamassassin, dnsmasq-base)');
  if (process.getuid?.() !== 0) throw new Error('a private Postfix instance is started as root (its daemons drop to the postfix user)');
}

export async function startPostfixRelay(relayTo: { host: string; port: number }): Promise<PostfixRelay> {
  requireInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postfix-'));
  const port = await freePort();
  const queue = path.join(dir, 'queue');
  const data = path.join(dir, 'data');
  fs.mkdirSync(queue);
  fs.mkdirSync(data);
  execFileSync('chown', ['postfix', data]); // master's lock file and the TLS caches
  fs.chmodSync(dir, 0o755);
  const maillog = path.join(dir, 'maillog');
  fs.writeFileSync(path.join(dir, 'main.cf'), [
    'compatibility_level = 3.6',
    `queue_directory = ${queue}`,
    `data_directory = ${data}`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = relay.test',
    'inet_interfaces = loopback-only',
    'inet_protocols = ipv4',
    'mydestination =',
    'local_recipient_maps =',
    'alias_maps =',
    'alias_database =',
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject',
    `relayhost = [${relayTo.host}]:${relayTo.port}`,
    'smtp_tls_security_level = none',
    'smtpd_tls_security_level = none',
    // Mail is handed on at once (no waiting between retries in a test).
    'queue_run_delay = 1s',
    'minimal_backoff_time = 1s',
    'maximal_backoff_time = 2s',
    `maillog_file = ${maillog}`,
    `maillog_file_prefixes = ${dir}`,
    'master_service_disable =',
    '',
  ].join('\n'));
  // The package's own master.cf (services and their programs), with the SMTP listener moved to our port.
  const master = fs.readFileSync('/usr/share/postfix/master.cf.dist', 'utf8')
    .replace(/^smtp\s+inet\s.*$/m, `127.0.0.1:${port} inet n - y - - smtpd`)
    .replace(/^#?postlog\s+unix-dgram.*$/m, 'postlog   unix-dgram n  -       n       -       1       postlogd');
  fs.writeFileSync(path.join(dir, 'master.cf'), master);
  execFileSync(POSTFIX, ['-c', dir, 'start'], { stdio: 'pipe' });
  await waitForPort(port);
  return {
    port,
    log: () => (fs.existsSync(maillog) ? fs.readFileSync(maillog, 'utf8') : ''),
    async stop() {
      try {
        execFileSync(POSTFIX, ['-c', dir, 'stop'], { stdio: 'pipe' });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  const until = Date.now() + 15_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`Postfix did not listen on 127.0.0.1:${port} within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
