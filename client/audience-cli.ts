// `delivery profiles | segments | lists`: the data deliveries target. Talks to the database only.
import fs from 'node:fs';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { openDatabase, type Database } from '../store/prisma';
import { AudienceError, audienceCount, audiencePage, targetOf } from '../store/audience';
import { IMPORT_MODES, type ImportMode } from '../store/profiles';
import { segments } from '../store/segments';
import { lists } from '../store/lists';
import { eraseAddress } from '../store/erasure';
import { addressKey } from '../domain/address';
import { NAME, NAME_RULE } from '../domain/audience';
import type { DeliverySpec } from '../domain/spec';
import { parseImportKey } from '../domain/profile-csv';
import { checkProfileFile, importProfileFile, type ImportReport } from './profile-file';
import { InputError, wholeNumber } from './errors';
import { requireValidSpec } from './deliveries';
import { printable, table } from './format';
import { erasureSecret } from '../temporal/config';

export async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase();
  try {
    return await fn(db);
  } catch (e) {
    if (e instanceof AudienceError) throw new InputError(`${e.problems.join('\n')}\nNothing was changed.`, 'INVALID_AUDIENCE');
    throw e;
  } finally {
    await db.$disconnect();
  }
}

/** A condition given as a JSON file, or inline JSON. */
function readCondition(source: string): unknown {
  const inline = source.trim().startsWith('{');
  let text = source;
  if (!inline) {
    try {
      text = fs.readFileSync(source, 'utf8');
    } catch (e) {
      throw new InputError(`Cannot read ${source}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'FILE');
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${inline ? 'the condition' : source} is not valid JSON: ${(e as Error).message}`, 'INVALID_JSON');
  }
}

function listName(name: string): string {
  if (!NAME.test(name)) throw new InputError(`list name "${name}": use ${NAME_RULE}`);
  return name;
}

async function listId(db: Database, name: string): Promise<number> {
  const id = await lists(db).idOf(name);
  if (id === undefined) throw new InputError(`unknown list "${name}": create it with "delivery lists create ${name}" (see "delivery lists list")`, 'NOT_FOUND');
  return id;
}

function rejectedText(report: { rejected: number; rejectedRows: Array<{ row: number; reason: string }> }): string {
  const shown = report.rejectedRows.slice(0, 50).map((r) => `  row ${r.row}: ${printable(r.reason)}`).join('\n');
  return shown + (report.rejected > 50 ? `\n  … and ${report.rejected - 50} more` : '');
}

/**
 * A file as one delivery's audience (Adobe's "from file"): its rows are upserted as profiles and subscribed to
 * a list of their own, "file.<delivery id>", which the delivery targets. Returns the list's name.
 */
export async function importAudienceFile(file: string, deliveryId: string): Promise<string> {
  const name = `file.${deliveryId.replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 100);
  return withDatabase(async (db) => {
    const check = await checkProfileFile(file);
    if (check.rejected > 0) throw new InputError(`${file}: ${check.rejected} invalid row(s); nothing was started:\n${rejectedText(check)}`, 'INVALID_CSV');
    if (check.rows === 0) throw new InputError(`${file}: no profile rows: the delivery would target nobody`, 'INVALID_CSV');
    if (!(await lists(db).create(name, `audience of delivery ${deliveryId} (from ${file})`))) throw new InputError(`list "${name}" exists already: start the delivery under another --id`, 'EXISTS');
    await importProfileFile(db, file, { mode: 'upsert', listId: await listId(db, name), erasureSecret: erasureSecret() });
    return name;
  });
}

/**
 * The spec, validated, with its audience resolved against the database before anything starts (unknown segments
 * and lists, cycles: exit 2).
 */
export async function checkAudience(input: unknown): Promise<DeliverySpec> {
  const spec = requireValidSpec(input);
  if ('all' in spec.audience && spec.unsubscribeFrom === 'everything') return spec; // nothing to look up
  await withDatabase(async (db) => {
    if (spec.unsubscribeFrom !== 'everything') await listId(db, spec.unsubscribeFrom.list);
    await targetOf(db, spec.audience);
  });
  return spec;
}

export function registerAudienceCommands(program: Command): void {
  const profiles = program.command('profiles').description('the profiles deliveries target');
  profiles.command('import <csv>')
    .description('import profiles from a CSV file with a header row (email, firstName, lastName, language, country, optOut; other columns ' +
      'become attributes, typed by value or by the header: "score:number", "birthday:date", "zip:text"), matched by address or by --key')
    .option('--mode <mode>', `${IMPORT_MODES.join(' | ')}: upsert adds new profiles and updates known ones (default), insert only adds, update only updates`, 'upsert')
    .option('--key <column>', 'match rows to profiles by this attribute column (an external id such as customerId) instead of by address; an update may then change the address')
    .option('--list <name>', 'also subscribe the imported addresses to this list (those who unsubscribed from it stay unsubscribed)')
    .option('--skip-invalid', 'import the valid rows and report the rejected ones (default: import nothing when a row is invalid)')
    .option('--batch <rows>', 'rows per transaction', (v) => wholeNumber('--batch', v, 1), 1000)
    .action(async (file: string, opts: { mode: string; list?: string; key?: string; skipInvalid?: boolean; batch: number }) => {
      if (!(IMPORT_MODES as readonly string[]).includes(opts.mode)) throw new InputError(`--mode must be one of ${IMPORT_MODES.join(', ')} (got "${opts.mode}")`);
      const keyed = opts.key === undefined ? { ok: true as const } : parseImportKey(opts.key);
      if (!keyed.ok) throw new InputError(keyed.error);
      const { key } = keyed;
      await withDatabase(async (db) => {
        const list = opts.list === undefined ? undefined : await listId(db, listName(opts.list));
        if (!opts.skipInvalid) {
          const check = await checkProfileFile(file, key);
          if (check.rejected > 0) {
            throw new InputError(`${file}: ${check.rejected} invalid row(s); nothing was imported:\n${rejectedText(check)}\n` +
              `Fix them, or pass --skip-invalid to import the ${check.rows - check.rejected} valid rows.`, 'INVALID_CSV');
          }
        }
        const bar = process.stdout.isTTY ? new SingleBar({ format: ' Importing {rows} rows | {rate} rows/s | {inserted} new, {updated} updated, {rejected} rejected' }, Presets.shades_classic) : undefined;
        bar?.start(0, 0, { rows: 0, rate: 0, inserted: 0, updated: 0, rejected: 0 });
        const report: ImportReport = await importProfileFile(db, file, {
          mode: opts.mode as ImportMode, listId: list, key, batchSize: opts.batch, erasureSecret: erasureSecret(),
          onProgress: (p) => bar?.update(p.rows, { rows: p.rows, rate: p.rowsPerSecond, inserted: p.inserted, updated: p.updated, rejected: p.rejected }),
        });
        bar?.stop();
        console.log(`${report.rows} rows in ${report.seconds.toFixed(1)} s (${report.rowsPerSecond} rows/s): ${report.inserted} profiles added, ` +
          `${report.updated} updated, ${report.skipped} skipped, ${report.rejected} rejected${report.rejected ? `:\n${rejectedText(report)}` : ''}`);
      });
    });
  profiles.command('list')
    .description('profiles, in id order (with --where, those matching a condition)')
    .option('--where <condition>', 'a condition as a JSON file or inline JSON (the grammar of audience.where)')
    .option('--after <id>', 'profiles with an id above this one (the next page)', (v) => wholeNumber('--after', v), 0)
    .option('--limit <n>', 'how many', (v) => wholeNumber('--limit', v, 1), 50)
    .option('--json', 'print as JSON')
    .action(async (opts: { where?: string; after: number; limit: number; json?: boolean }) => {
      const where = opts.where === undefined ? undefined : readCondition(opts.where);
      await withDatabase(async (db) => {
        const target = await targetOf(db, where === undefined ? { all: true } : { where: where as Record<string, unknown> });
        const page = await audiencePage(db, target, opts.after, opts.limit);
        if (opts.json) console.log(JSON.stringify(page, null, 2));
        else {
          console.log(table(['Id', 'Email', 'Name', 'Language', 'Country', 'Attributes'], page.map((p) => [
            String(p.id), p.email, `${p.firstName} ${p.lastName}`.trim(), p.language, p.country, JSON.stringify(p.attributes)])));
          if (page.length === opts.limit) console.log(`(next page: --after ${page[page.length - 1].id})`);
        }
      });
    });
  profiles.command('show <address>')
    .description('the profiles of an address, its subscriptions, opt-out and quarantine')
    .option('--json', 'print as JSON')
    .action(async (address: string, opts: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const key = addressKey(address);
        const [rows, optOut, quarantine, subscriptions] = await Promise.all([
          db.profile.findMany({ where: { addressKey: key }, orderBy: { id: 'asc' } }),
          db.optOut.findUnique({ where: { address: key } }),
          db.quarantine.findUnique({ where: { address: key } }),
          db.listSubscription.findMany({ where: { address: key } }),
        ]);
        if (rows.length === 0 && !optOut && !quarantine && subscriptions.length === 0) throw new InputError(`no profile has the address ${key}`, 'NOT_FOUND');
        const names = new Map((await db.list.findMany()).map((l) => [l.id, l.name]));
        const view = {
          profiles: rows.map((r) => ({ ...r, attributes: JSON.parse(r.attributes) as unknown })),
          optedOut: optOut ? { at: optOut.optedOutAt, source: optOut.source, deliveryId: optOut.deliveryId } : null,
          quarantine: quarantine ? { status: quarantine.status, reason: quarantine.reason, errors: quarantine.errorCount } : null,
          lists: subscriptions.map((s) => ({ list: names.get(s.listId), status: s.status, at: s.changedAt, source: s.source })),
        };
        // JSON escapes C0 controls inside strings already; C1 ones (a terminal reads 0x9B as CSI) are made printable per line.
        const json = JSON.stringify(view, null, 2);
        console.log(opts.json ? json : json.split('\n').map(printable).join('\n'));
      });
    });
  profiles.command('delete <address>')
    .description('delete the profiles of an address (its opt-out, quarantine and sending logs are kept)')
    .action(async (address: string) => {
      await withDatabase(async (db) => {
        const { count } = await db.profile.deleteMany({ where: { addressKey: addressKey(address) } });
        if (count === 0) throw new InputError(`no profile has the address ${addressKey(address)}: nothing deleted`, 'NOT_FOUND');
        console.log(`${count} profile(s) of ${addressKey(address)} deleted`);
      });
    });
  profiles.command('erase <address>')
    .description('erase an address: profiles deleted, personal data scrubbed from sending logs, opt-out and quarantine kept as a hash')
    .action(async (address: string) => {
      await withDatabase(async (db) => {
        const r = await eraseAddress(db, address, erasureSecret());
        if (r.profiles + r.sendingLogs === 0 && !r.optedOut && !r.quarantined && r.lists === 0) throw new InputError(`nothing is stored about ${addressKey(address)}`, 'NOT_FOUND');
        console.log(`${addressKey(address)} erased: ${r.profiles} profile(s) deleted, ${r.sendingLogs} sending log(s) scrubbed` +
          `${r.unsent ? `, ${r.unsent} message(s) not sent yet will not be` : ''}; kept as a keyed hash: ` +
          `${[r.optedOut && 'opt-out', r.quarantined && 'quarantine', r.lists && `${r.lists} list unsubscription(s)`].filter(Boolean).join(', ') || 'nothing'}`);
      });
    });

  const segment = program.command('segments').description('saved audience conditions, reusable in deliveries ({ "segment": "<name>" }) and other segments');
  segment.command('create <name> <condition>')
    .description('save a condition (a JSON file, or inline JSON) under a name')
    .option('--description <text>', 'what the segment is for')
    .option('--replace', 'change the condition of an existing segment')
    .action(async (name: string, source: string, opts: { description?: string; replace?: boolean }) => {
      const condition = readCondition(source);
      await withDatabase(async (db) => {
        console.log(`segment "${name}" ${await segments(db).save(name, condition, opts)}`);
      });
    });
  segment.command('list').description('saved segments').option('--json', 'print as JSON').action(async (opts: { json?: boolean }) => {
    await withDatabase(async (db) => {
      const all = await segments(db).all();
      if (opts.json) console.log(JSON.stringify(all, null, 2));
      else console.log(table(['Segment', 'Description', 'Condition', 'Updated'], all.map((s) => [s.name, s.description, JSON.stringify(s.condition), s.updatedAt.toISOString()])));
    });
  });
  segment.command('show <name>').description('a segment and its condition').action(async (name: string) => {
    await withDatabase(async (db) => {
      const s = await segments(db).find(name);
      if (!s) throw new InputError(`unknown segment "${name}" (see "delivery segments list")`, 'NOT_FOUND');
      console.log(JSON.stringify(s, null, 2));
    });
  });
  segment.command('count <name>')
    .description('how many profiles a delivery targeting the segment would target, deliver to and exclude (by cause), without preparing anything')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withDatabase(async (db) => {
        if (!(await segments(db).find(name))) throw new InputError(`unknown segment "${name}" (see "delivery segments list")`, 'NOT_FOUND');
        const started = Date.now();
        const count = await audienceCount(db, await targetOf(db, { where: { segment: name } }));
        if (opts.json) console.log(JSON.stringify(count, null, 2));
        else {
          console.log(table(['', 'Profiles'], [['Targeted', String(count.targeted)], ['To deliver', String(count.toDeliver)], ['To exclude', String(count.toExclude)],
            ...Object.entries(count.exclusions).map(([cause, n]) => [`  ${cause}`, String(n)])]));
          console.log(`(counted in ${((Date.now() - started) / 1000).toFixed(2)} s; a delivery's typology rules apply at its preparation)`);
        }
      });
    });
  segment.command('delete <name>').description('delete a segment that no other segment uses').action(async (name: string) => {
    await withDatabase(async (db) => {
      if (!(await segments(db).remove(name))) throw new InputError(`unknown segment "${name}": nothing deleted`, 'NOT_FOUND');
      console.log(`segment "${name}" deleted`);
    });
  });

  const list = program.command('lists').description('subscription lists: deliveries target their subscribers ({ "list": "<name>" }) and may unsubscribe from one list only');
  list.command('create <name>').description('create a list').option('--description <text>', 'what the list is').action(async (name: string, opts: { description?: string }) => {
    await withDatabase(async (db) => {
      if (!(await lists(db).create(listName(name), opts.description))) throw new InputError(`list "${name}" exists already`, 'EXISTS');
      console.log(`list "${name}" created`);
    });
  });
  list.command('list').description('lists with their subscribed and unsubscribed counts').option('--json', 'print as JSON').action(async (opts: { json?: boolean }) => {
    await withDatabase(async (db) => {
      const all = await lists(db).summaries();
      if (opts.json) console.log(JSON.stringify(all, null, 2));
      else console.log(table(['List', 'Subscribed', 'Unsubscribed', 'Description'], all.map((l) => [l.name, String(l.subscribed), String(l.unsubscribed), l.description])));
    });
  });
  list.command('show <name>').description('a list: counts and its subscriptions, latest changes first')
    .option('--offset <n>', 'skip this many (the next page)', (v) => wholeNumber('--offset', v), 0)
    .option('--limit <n>', 'how many', (v) => wholeNumber('--limit', v, 1), 50)
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { offset: number; limit: number; json?: boolean }) => {
      await withDatabase(async (db) => {
        const id = await listId(db, name);
        const summary = (await lists(db).summaries()).find((l) => l.name === name)!;
        const latest = await lists(db).subscriptions(id, opts.offset, opts.limit);
        const total = summary.subscribed + summary.unsubscribed;
        if (opts.json) console.log(JSON.stringify({ ...summary, offset: opts.offset, total, latest }, null, 2));
        else {
          console.log(`List ${name}: ${summary.subscribed} subscribed, ${summary.unsubscribed} unsubscribed${summary.description ? ` — ${summary.description}` : ''}`);
          console.log(table(['Address', 'Status', 'Since', 'Source', 'Delivery'], latest.map((s) => [s.address, s.status, s.changedAt.toISOString(), s.source, s.deliveryId ?? ''])));
          const next = opts.offset + latest.length;
          if (next < total) console.log(`(${next} of ${total} shown; ${total - next} more: --offset ${next})`);
        }
      });
    });
  for (const [command, status] of [['subscribe', 'subscribed'], ['unsubscribe', 'unsubscribed']] as const) {
    list.command(`${command} <name> <address...>`).description(`${command} addresses ${command === 'subscribe' ? 'to' : 'from'} a list`).action(async (name: string, addresses: string[]) => {
      await withDatabase(async (db) => {
        const id = await listId(db, name);
        const changed = await lists(db).setStatus(id, addresses, status, 'cli');
        console.log(`${changed} address(es) ${status}${changed < addresses.length ? ` (${addresses.length - changed} already were)` : ''}`);
      });
    });
  }
}
