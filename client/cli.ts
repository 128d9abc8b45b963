// The `delivery` CLI: a thin client of the emailDelivery workflows and of the profile store.
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { Connection, Client } from '@temporalio/client';
import { temporalConfig } from '../temporal/config';
import { deliveriesLink, webUiUrl } from '../temporal/web-ui';
import { openDatabase } from '../store/prisma';
import { checkAudience, importAudienceFile, registerAudienceCommands } from './audience-cli';
import { registerOptOutCommands } from './optout-cli';
import { registerDomainCommands } from './domain-cli';
import { registerShapingCommands } from './shaping-cli';
import { registerWarmupCommands } from './warmup-cli';
import { registerDkimCommands } from './dkim-cli';
import { chooseWinner, editDelivery, newDeliveryId, readExclusions, readLogs, readSnapshot, sendCommand, startDelivery } from './deliveries';
import { quarantine } from '../store/quarantine';
import { recipientLogs } from '../store/recipients';
import { table } from './format';
import { InputError, wholeNumber } from './errors';
import { deliveryTable, logLines, snapshotText } from './format';
import { watchDeliveries, watchDelivery } from './watch';
import { registerReportCommands } from './report-cli';
import { LIST_STATES, listDeliveries } from './delivery-list';
import { commandRecurringDelivery, createRecurringDelivery, listRecurringDeliveries, type OverlapChoice, type ScheduleCommand } from './schedules';
import { COMMAND_TABLE, PLAIN_COMMANDS } from '../domain/lifecycle';

const program = new Command('delivery').description('Prepare, send and follow email deliveries running on Temporal').showHelpAfterError();

async function withClient<T>(fn: (client: Client, taskQueue: string) => Promise<T>): Promise<T> {
  const config = temporalConfig();
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.address, connectTimeout: '5 seconds' });
  } catch (e) {
    throw new InputError(`Cannot reach Temporal at ${config.address} (${(e as Error).message}); start it with "npm start" or set TEMPORAL_ADDRESS`, 'TEMPORAL_UNREACHABLE');
  }
  try {
    return await fn(new Client({ connection, namespace: config.namespace }), config.taskQueue);
  } finally {
    await connection.close();
  }
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'FILE');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file} is not valid JSON: ${(e as Error).message}`, 'INVALID_JSON');
  }
}

program.command('start <spec>')
  .description('start a delivery from a JSON spec file; prints its id (the workflow id)')
  .option('--id <id>', 'workflow id to use instead of a generated one')
  .option('--audience-file <csv>', 'target the addresses of this profile file (imported, upserted, into the list "file.<delivery id>") instead of the spec\'s audience')
  .option('--watch', 'follow its progress until it settles')
  .action(async (specFile: string, opts: { id?: string; audienceFile?: string; watch?: boolean }) => {
    let spec = readJsonFile(specFile);
    let id = opts.id;
    const valid = await checkAudience(spec); // bad input changes nothing: checked before a file is imported
    if (opts.audienceFile) {
      id ??= newDeliveryId(valid.name);
      spec = { ...(spec as object), audience: { where: { list: await importAudienceFile(opts.audienceFile, id) } } };
    }
    await withClient(async (client, taskQueue) => {
      const handle = await startDelivery(client, taskQueue, spec, id);
      console.log(handle.workflowId);
      if (opts.watch) console.log(snapshotText(await watchDelivery(client, handle.workflowId)));
    });
  });

for (const command of PLAIN_COMMANDS) {
  program.command(`${command} <id>`).description(COMMAND_TABLE[command].help).action(async (id: string) => {
    await withClient(async (client) => {
      console.log(`${id}: ${await sendCommand(client, id, command)}`);
    });
  });
}

program.command('status <id>')
  .description('live progress bars and KPIs until the delivery settles')
  .option('--json', 'print the status and KPIs once, as JSON')
  .action(async (id: string, opts: { json?: boolean }) => {
    await withClient(async (client) => {
      if (opts.json) console.log(JSON.stringify(await readSnapshot(client, id), null, 2));
      else console.log(snapshotText(await watchDelivery(client, id)));
    });
  });

program.command('list')
  .description('deliveries of this task queue, newest first: name, id, state, contact date, targeted, sent, errors, open and click rates')
  .option('--state <state>', `only this state: ${LIST_STATES.join(', ')}`)
  .option('--name <text>', 'only names containing this text (any case)')
  .option('--limit <n>', 'how many (default 20)', (v) => wholeNumber('--limit', v))
  .option('--offset <n>', 'skip this many first (the next page)', (v) => wholeNumber('--offset', v))
  .option('--json', 'print as JSON')
  .action(async (opts: { state?: string; name?: string; limit?: number; offset?: number; json?: boolean }) => {
    await withClient(async (client, taskQueue) => {
      const rows = await listDeliveries(client, { taskQueue, ...opts });
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(deliveryTable(rows));
      const ui = webUiUrl();
      if (ui) console.log(`\nIn the Web UI: ${deliveriesLink(ui, temporalConfig().namespace, { state: opts.state })}`);
    });
  });

program.command('watch')
  .description('follow every running delivery at once, one progress bar each; not on a terminal, a line per delivery every interval (Ctrl-C to leave; the deliveries go on)')
  .option('--once', 'print the running deliveries once, as a table, and return')
  .option('--every <seconds>', 'how often to look (default 1 s on a terminal, 10 s otherwise)', (v) => wholeNumber('--every', v, 1))
  .action(async (opts: { once?: boolean; every?: number }) => {
    await withClient(async (client, taskQueue) => {
      if (opts.once) console.log(deliveryTable(await listDeliveries(client, { taskQueue, running: true, limit: 50 })));
      else await watchDeliveries(client, taskQueue, { everyMs: opts.every === undefined ? undefined : opts.every * 1000 });
    });
  });

program.command('edit <id> <spec>')
  .description(`${COMMAND_TABLE.edit.help}; it needs a new proof when one is required`)
  .action(async (id: string, specFile: string) => {
    const spec = readJsonFile(specFile);
    await withClient(async (client) => {
      await editDelivery(client, id, spec);
      console.log(`${id} edited: preparing again`);
    });
  });

program.command('choose-winner <id> <variant>')
  .description("an A/B test's winner, chosen by hand: the rest of the target gets this variant (needed when the test is manual, or ended without a winner under ifNoWinner \"wait\")")
  .action(async (id: string, variant: string) => {
    await withClient(async (client) => {
      console.log(`${id}: ${await chooseWinner(client, id, variant)}`);
    });
  });

program.command('logs <id>')
  .description('the delivery log (newest last), or with --recipients the sending logs of its recipients')
  .option('--offset <n>', 'first entry to show', (v) => wholeNumber('--offset', v))
  .option('--limit <n>', 'how many entries', (v) => wholeNumber('--limit', v))
  .option('--recipients', 'per-recipient sending logs (status, failure type, reason) from the database')
  .option('--status <status>', 'with --recipients: pending, sent, failed, ignored or cancelled')
  .option('--failure-type <type>', 'with --recipients: hard, soft or ignored')
  .option('--reason <reason>', 'with --recipients: reasons starting with this ("user unknown")')
  .option('--json', 'print the page as JSON')
  .action(async (id: string, opts: { offset?: number; limit?: number; json?: boolean; recipients?: boolean; status?: string; failureType?: string; reason?: string }) => {
    if (opts.recipients) {
      const db = await openDatabase();
      try {
        const page = await recipientLogs(db, id, opts);
        if (opts.json) console.log(JSON.stringify(page, null, 2));
        else {
          console.log(table(['Recipient', 'Status', 'Type', 'Reason / cause', 'Retries'], page.rows.map((r) => [
            r.email, r.status, r.failureType ?? '', r.exclusionCause ?? r.reason ?? '', String(r.softFailures)])));
          console.log(`(${page.rows.length} of ${page.total} recipients)`);
        }
      } finally {
        await db.$disconnect();
      }
      return;
    }
    await withClient(async (client) => {
      const page = await readLogs(client, id, { offset: opts.offset, limit: opts.limit });
      if (opts.json) console.log(JSON.stringify(page, null, 2));
      else console.log(`${logLines(page.entries)}\n(${page.entries.length} of ${page.total} entries from #${page.offset})`);
    });
  });

program.command('exclusions <id>')
  .description('exclusions of the preparation, counted by cause')
  .option('--json', 'print as JSON')
  .action(async (id: string, opts: { json?: boolean }) => {
    await withClient(async (client) => {
      const report = await readExclusions(client, id);
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(table(['Exclusion cause', 'Recipients'], [...Object.entries(report.byCause).map(([c, n]) => [c, String(n)]), ['To exclude', String(report.toExclude)]]));
    });
  });

const quarantineCommand = program.command('quarantine').description('addresses excluded from every delivery after hard or repeated soft failures');
quarantineCommand.command('list')
  .description('addresses in quarantine (with --all, also those with soft errors below the threshold)')
  .option('--all', 'include valid addresses that have errors')
  .option('--json', 'print as JSON')
  .action(async (opts: { all?: boolean; json?: boolean }) => {
    const db = await openDatabase();
    try {
      const rows = await quarantine(db).list(opts.all ? undefined : 'quarantined');
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else console.log(table(['Address', 'Status', 'Type', 'Errors', 'Reason', 'Last error'], rows.map((r) => [
        r.address, r.status, r.failureType, String(r.errorCount), r.reason, r.lastErrorAt.toISOString()])));
    } finally {
      await db.$disconnect();
    }
  });
quarantineCommand.command('release <address>')
  .description('make an address valid again')
  .action(async (address: string) => {
    const db = await openDatabase();
    try {
      if (!(await quarantine(db).release(address))) throw new InputError(`${address.toLowerCase()} is not in quarantine: nothing to release`, 'NOT_FOUND');
      console.log(`${address.toLowerCase()} released from quarantine`);
    } finally {
      await db.$disconnect();
    }
  });

const schedule = program.command('schedule').description('recurring deliveries: a Temporal Schedule starts a new delivery from a saved spec on a calendar');
schedule.command('create <spec>')
  .description('create a recurring delivery; each run is a separate delivery workflow')
  .option('--cron <expression...>', 'cron expression(s), e.g. "0 9 * * MON" (Mondays 9:00)')
  .option('--every <interval>', 'a fixed interval: 30m, 12h, 7d')
  .option('--timezone <zone>', 'IANA time zone of the cron expressions (default UTC)')
  .option('--id <id>', 'schedule id to use instead of a generated one')
  .option('--overlap <policy>', 'a run due while the previous one has not ended: skip (default), buffer-one, allow-all')
  .action(async (specFile: string, opts: { cron?: string[]; every?: string; timezone?: string; id?: string; overlap?: string }) => {
    const spec = readJsonFile(specFile);
    await withClient(async (client, taskQueue) => {
      console.log(await createRecurringDelivery(client, taskQueue, {
        spec, cron: opts.cron, every: opts.every, timezone: opts.timezone, id: opts.id, overlap: opts.overlap as OverlapChoice | undefined,
      }));
    });
  });
schedule.command('list')
  .description('recurring deliveries with their calendar, next run and last delivery started')
  .option('--json', 'print as JSON')
  .action(async (opts: { json?: boolean }) => {
    await withClient(async (client) => {
      const rows = await listRecurringDeliveries(client);
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else console.log(table(['Schedule', 'Delivery', 'Calendar', 'Overlap', 'State', 'Next run', 'Last delivery'],
        rows.map((r) => [r.id, r.name, r.calendar, r.overlap, r.paused ? 'paused' : 'active', r.next, r.lastRun])));
    });
  });
for (const [command, help] of [
  ['pause', 'stop starting new runs (running deliveries go on)'],
  ['unpause', 'start runs again from the next calendar time'],
  ['trigger', "start one run now (refused while a run is in progress or the next is due within 10 minutes, unless the schedule's overlap is allow-all)"],
  ['delete', 'delete the schedule (deliveries it started are kept)'],
] as Array<[ScheduleCommand, string]>) {
  schedule.command(`${command} <schedule-id>`).description(help).action(async (id: string) => {
    await withClient(async (client) => {
      await commandRecurringDelivery(client, id, command);
      console.log(`${id}: ${command === 'delete' ? 'deleted' : command === 'trigger' ? 'run started' : `${command}d`}`);
    });
  });
}

registerAudienceCommands(program);
registerOptOutCommands(program);
registerReportCommands(program);
registerDomainCommands(program);
registerShapingCommands(program);
registerWarmupCommands(program);
registerDkimCommands(program);

/** Usage mistakes (a missing argument or option, an unknown one) are bad input too: exit 2, not commander's 1. */
function throwOnUsageErrors(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) throwOnUsageErrors(sub);
}
throwOnUsageErrors(program);

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander has printed the message and usage
    if (e instanceof InputError) {
      console.error(e.message);
      return 2;
    }
    console.error(e instanceof Error ? e.message : e);
    return 1;
  }
}

if (require.main === module) main(process.argv).then((code) => process.exit(code));
