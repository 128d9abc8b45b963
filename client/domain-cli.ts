// `delivery domains`: engine-wide caps per recipient domain. A delivery's `domainLimits` cap what that delivery
// sends; these cap what the whole engine sends to a domain, every delivery and worker together (mailbox providers
// throttle by sending server, not by campaign). A change applies to running deliveries within seconds.
import type { Command } from 'commander';
import { DOMAIN } from '../domain/spec';
import { domainThrottles } from '../store/domain-throttles';
import { withDatabase } from './audience-cli';
import { InputError } from './errors';
import { printable, table } from './format';

const MAX_RATE = 100_000;

function domainName(domain: string): string {
  if (!DOMAIN.test(domain)) throw new InputError(`"${printable(domain)}" is not a domain: write it lower-case, such as gmail.com`);
  return domain;
}

function rateOf(value: string): number {
  const rate = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(rate > 0) || rate > MAX_RATE) {
    throw new InputError(`--rate must be a number of messages per second above 0 and at most ${MAX_RATE} (got "${printable(value)}")`);
  }
  return rate;
}

export function registerDomainCommands(program: Command): void {
  const domains = program.command('domains').description('engine-wide caps per recipient domain, shared by every delivery and worker');
  domains.command('list').description('the capped domains').option('--json', 'print as JSON').action(async (opts: { json?: boolean }) => {
    await withDatabase(async (db) => {
      const rows = await domainThrottles(db).list();
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else console.log(table(['Domain', 'Messages/s', 'Since'], rows.map((r) => [r.domain, String(r.messagesPerSecond), r.updatedAt.toISOString()])));
    });
  });
  domains.command('set <domain>')
    .description('cap the messages per second the engine sends to a domain (running deliveries follow within seconds)')
    .requiredOption('--rate <messagesPerSecond>', 'messages per second, all deliveries and workers together', rateOf)
    .action(async (domain: string, opts: { rate: number }) => {
      await withDatabase(async (db) => {
        const done = await domainThrottles(db).set(domainName(domain), opts.rate);
        console.log(`${domain}: at most ${opts.rate} messages/s from the whole engine (${done})`);
      });
    });
  domains.command('remove <domain>').description('lift the engine-wide cap of a domain').action(async (domain: string) => {
    await withDatabase(async (db) => {
      if (!(await domainThrottles(db).remove(domainName(domain)))) throw new InputError(`${domain} has no engine-wide cap: nothing removed (see "delivery domains list")`, 'NOT_FOUND');
      console.log(`${domain}: engine-wide cap removed (a delivery's own domainLimits still apply)`);
    });
  });
}
