// `delivery domains`: engine-wide rates per recipient domain or mailbox provider. A delivery's `domainLimits` cap what
// that delivery sends; these cap what the whole engine sends to a domain or a provider (google: gmail.com,
// googlemail.com and every Google-hosted domain), every delivery and worker together, because mailbox providers
// throttle by sending server, not by campaign. Traffic shaping moves the rates below the caps by itself; `list` shows
// where each one stands and why. A change applies to running deliveries within seconds.
import type { Command } from 'commander';
import { DOMAIN } from '../domain/spec';
import { PROVIDER_NAMES } from '../domain/providers';
import { domainThrottles, type DomainThrottleRow } from '../store/domain-throttles';
import { mailDomains } from '../store/mail-domains';
import { withDatabase } from './audience-cli';
import { InputError } from './errors';
import { printable, table } from './format';

const MAX_RATE = 100_000;
const PROVIDERS = [...PROVIDER_NAMES].join(', ');

function domainName(domain: string): string {
  if (!DOMAIN.test(domain)) throw new InputError(`"${printable(domain)}" is not a domain: write it lower-case, such as gmail.com`);
  return domain;
}

/** A domain, or a provider's name. */
function keyName(key: string): string {
  if (PROVIDER_NAMES.has(key)) return key;
  if (!DOMAIN.test(key)) throw new InputError(`"${printable(key)}" is neither a domain (write it lower-case, such as gmail.com) nor a provider (${PROVIDERS})`);
  return key;
}

function rateOf(value: string): number {
  const rate = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(rate > 0) || rate > MAX_RATE) {
    throw new InputError(`--rate must be a number of messages per second above 0 and at most ${MAX_RATE} (got "${printable(value)}")`);
  }
  return rate;
}

const time = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const round = (n: number) => String(Math.round(n * 100) / 100);

/** "slowed down since 2026-12-05 06:54:39: slow down (google-rate)" | "suspended until …" | "at its cap" */
export function shapingState(r: DomainThrottleRow, now = Date.now()): string {
  if (r.suspendedUntil > now) return `suspended until ${time(r.suspendedUntil)}: ${r.cause ?? ''}`;
  const limit = r.cap ?? r.ceiling ?? r.messagesPerSecond;
  if (r.messagesPerSecond < limit) return `slowed down${r.slowedAt ? ` since ${time(r.slowedAt)}` : ''}${r.cause ? `: ${r.cause}` : ''}`;
  return r.cap === null ? 'recovering' : 'at its cap';
}

export function registerDomainCommands(program: Command): void {
  const domains = program.command('domains').description('engine-wide rates per recipient domain or mailbox provider, shared by every delivery and worker (caps and traffic shaping)');
  domains.command('list').description('the capped or shaped domains and providers: rate now, cap, shaping state, last reply').option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const rows = await domainThrottles(db).list();
        if (opts.json) return console.log(JSON.stringify(rows.map((r) => ({ ...r, state: shapingState(r) })), null, 2));
        if (rows.length === 0) return console.log('No domain or provider is capped or shaped: every one gets what the deliveries send.');
        console.log(table(['Domain/provider', 'Messages/s', 'Cap', 'State', 'Last reply', 'Changed'], rows.map((r) => [
          r.domain, round(r.messagesPerSecond), r.cap === null ? '-' : round(r.cap), shapingState(r), (r.lastReply ?? '').slice(0, 80), r.updatedAt.toISOString().slice(0, 19).replace('T', ' '),
        ])));
      });
    });
  domains.command('set <domainOrProvider>')
    .description(`cap the messages per second the engine sends to a domain or a provider (${PROVIDERS}); running deliveries follow within seconds`)
    .requiredOption('--rate <messagesPerSecond>', 'messages per second, all deliveries and workers together', rateOf)
    .action(async (key: string, opts: { rate: number }) => {
      await withDatabase(async (db) => {
        const done = await domainThrottles(db).set(keyName(key), opts.rate);
        console.log(`${key}: at most ${opts.rate} messages/s from the whole engine (${done})`);
      });
    });
  domains.command('remove <domainOrProvider>').description('lift the engine-wide cap (and any shaping) of a domain or provider').action(async (key: string) => {
    await withDatabase(async (db) => {
      if (!(await domainThrottles(db).remove(keyName(key)))) throw new InputError(`${key} has no engine-wide cap: nothing removed (see "delivery domains list")`, 'NOT_FOUND');
      console.log(`${key}: engine-wide cap removed (a delivery's own domainLimits still apply)`);
    });
  });
  domains.command('providers').description('which provider each recipient domain met so far belongs to (by its MX hosts)').option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const rows = await mailDomains(db).list();
        if (opts.json) return console.log(JSON.stringify(rows, null, 2));
        console.log(table(['Domain', 'Provider', 'From', 'MX hosts', 'Resolved'], rows.map((r) => [
          r.domain, r.provider, r.source, r.mxHosts, r.resolvedAt.toISOString().slice(0, 19).replace('T', ' '),
        ])));
      });
    });
  domains.command('provider <domain> <provider>')
    .description(`say which provider a domain belongs to when its MX hosts do not tell (a company domain behind a gateway): ${PROVIDERS}`)
    .action(async (domain: string, provider: string) => {
      if (!PROVIDER_NAMES.has(provider)) throw new InputError(`"${printable(provider)}" is not a provider: use one of ${PROVIDERS}`);
      await withDatabase(async (db) => {
        await mailDomains(db).setByOps(domainName(domain), provider);
        console.log(`${domain}: counted as ${provider} (for sending attempts started from now on)`);
      });
    });
}
