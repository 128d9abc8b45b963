// `delivery optouts`: the addresses that asked for no more email (unsubscribe links, imports, ops), listed, added
// and, when a person asks to be subscribed again, removed. An opt-out is the address's: it excludes every profile
// holding it from every delivery (cause `opted out`), and prepared deliveries skip it at send time.
import type { Command } from 'commander';
import { addressKey, isValidAddress } from '../domain/address';
import { IN_LIST_MAX } from '../store/json-lists';
import { OPT_OUT_SOURCES, optOuts } from '../store/opt-outs';
import { withDatabase } from './audience-cli';
import { InputError, wholeNumber } from './errors';
import { printable, table } from './format';

/** The addresses given, all valid and at most IN_LIST_MAX, or an InputError naming the first bad one (nothing changed). */
function checkedAddresses(addresses: string[]): string[] {
  if (addresses.length > IN_LIST_MAX) throw new InputError(`at most ${IN_LIST_MAX} addresses at a time (got ${addresses.length}); for more, import a file with an optOut column`);
  const bad = addresses.find((a) => !isValidAddress(a.trim()));
  if (bad !== undefined) throw new InputError(`"${printable(bad)}" is not a valid address: nothing was changed`);
  return addresses;
}

export function registerOptOutCommands(program: Command): void {
  const optout = program.command('optouts').description('addresses opted out of every delivery (unsubscribe links, imports, ops)');
  optout.command('list')
    .description('opted-out addresses, newest first')
    .option('--source <source>', `only those opted out this way: ${OPT_OUT_SOURCES.map((x) => `"${x}"`).join(', ')}`, (v) => {
      if (!(OPT_OUT_SOURCES as readonly string[]).includes(v)) throw new InputError(`--source must be one of ${OPT_OUT_SOURCES.map((x) => `"${x}"`).join(', ')} (got "${printable(v)}")`);
      return v;
    })
    .option('--offset <n>', 'skip the first n', (v) => wholeNumber('--offset', v), 0)
    .option('--limit <n>', 'how many', (v) => wholeNumber('--limit', v, 1), 50)
    .option('--json', 'print as JSON')
    .action(async (opts: { source?: string; offset: number; limit: number; json?: boolean }) => {
      await withDatabase(async (db) => {
        const { total, rows } = await optOuts(db).list(opts);
        if (opts.json) return console.log(JSON.stringify({ total, offset: opts.offset, rows }, null, 2));
        console.log(table(['Address', 'Since', 'Source', 'Delivery'], rows.map((r) => [r.address, r.optedOutAt.toISOString(), r.source, r.deliveryId ?? ''])));
        const shownTo = opts.offset + rows.length;
        console.log(`${total} opted out${shownTo < total ? ` (next page: --offset ${shownTo})` : ''}`);
      });
    });
  optout.command('add <address...>')
    .description('opt addresses out of every delivery (as their unsubscribe link would)')
    .action(async (addresses: string[]) => {
      await withDatabase(async (db) => {
        const added = await optOuts(db).add(checkedAddresses(addresses), 'cli');
        const given = new Set(addresses.map(addressKey)).size;
        console.log(`${added} address(es) opted out${added < given ? ` (${given - added} already were)` : ''}`);
      });
    });
  optout.command('remove <address...>')
    .description('subscribe addresses again, when their owner asked for it: the opt-out goes, and the optOut flag of their profiles')
    .action(async (addresses: string[]) => {
      await withDatabase(async (db) => {
        const removed = await optOuts(db).remove(checkedAddresses(addresses));
        if (removed.length === 0) throw new InputError('none of these addresses is opted out: nothing was changed', 'NOT_FOUND');
        console.log(`${removed.length} address(es) subscribed again: ${removed.join(', ')}`);
      });
    });
}
