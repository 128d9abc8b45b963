// `delivery warmup`: the daily volume a new sender domain may send to each mailbox provider, growing on a schedule.
import type { Command } from 'commander';
import { DOMAIN } from '../domain/spec';
import { allowanceOn, parseGrowth, parsePerDay, utcDay, warmupSchedule, type WarmupPlan } from '../domain/warmup';
import { warmups } from '../store/warmups';
import { withDatabase } from './audience-cli';
import { InputError } from './errors';
import { printable, table } from './format';

interface StartOptions {
  from: string;
  grow: string;
  until: string;
  starting?: string;
}

/** The plan the options describe, or an InputError naming the option and the fix. */
export function warmupPlanOf(domain: string, o: StartOptions, today = utcDay(Date.now())): WarmupPlan {
  if (!DOMAIN.test(domain)) throw new InputError(`"${printable(domain)}" is not a sender domain: write it lower-case, such as shop.example`);
  const fromPerDay = parsePerDay(o.from);
  if (fromPerDay === undefined) throw new InputError(`--from must be a daily volume such as 500/day (got "${printable(o.from)}")`);
  const growth = parseGrowth(o.grow);
  if (growth === undefined) throw new InputError(`--grow must be a daily growth factor from 1x to 10x such as 1.5x (got "${printable(o.grow)}")`);
  const untilPerDay = parsePerDay(o.until);
  if (untilPerDay === undefined) throw new InputError(`--until must be a daily volume such as 500000/day (got "${printable(o.until)}")`);
  if (untilPerDay < fromPerDay) throw new InputError(`--until (${untilPerDay}/day) must be at least --from (${fromPerDay}/day)`);
  const startedOn = o.starting ?? today;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(startedOn) || Number.isNaN(Date.parse(`${startedOn}T00:00:00Z`))) {
    throw new InputError(`--starting must be a day as YYYY-MM-DD (got "${printable(startedOn)}")`);
  }
  return { senderDomain: domain, fromPerDay, growth, untilPerDay, startedOn };
}

export function registerWarmupCommands(program: Command): void {
  const warmup = program.command('warmup').description('warm-up of a new sender domain: a daily volume per mailbox provider that grows on a schedule');
  warmup.command('start <senderDomain>')
    .description('start (or replace) the warm-up of a sender domain; deliveries from it send what each day allows and go on the next day')
    .requiredOption('--from <n/day>', 'messages a day to each provider on the first day, e.g. 500/day')
    .requiredOption('--grow <factor>', 'growth from one day to the next, e.g. 1.5x')
    .requiredOption('--until <n/day>', 'the daily volume where the warm-up ends, e.g. 500000/day')
    .option('--starting <YYYY-MM-DD>', 'its first day (UTC; default today)')
    .action(async (domain: string, opts: StartOptions) => {
      const plan = warmupPlanOf(domain, opts);
      await withDatabase(async (db) => {
        const done = await warmups(db).start(plan);
        const schedule = warmupSchedule(plan);
        console.log(`${domain}: warm-up ${done}, ${plan.fromPerDay}/day per provider on ${plan.startedOn}, ×${plan.growth} a day, ` +
          `${plan.untilPerDay}/day from ${schedule[schedule.length - 1].day}`);
      });
    });
  warmup.command('list').description('the warm-ups: today\'s allowance per provider and what was sent of it').option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const store = warmups(db);
        const today = utcDay(Date.now());
        const rows = await Promise.all((await store.list()).map(async (p) => ({ ...p, today, allowance: allowanceOn(p, today), usage: await store.usage(p.senderDomain, today) })));
        if (opts.json) return console.log(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return console.log('No warm-up: every sender domain sends at full volume.');
        console.log(table(['Sender domain', 'Started', 'Schedule', `Today (${today})`, 'Sent today per provider'], rows.map((r) => [
          r.senderDomain, r.startedOn, `${r.fromPerDay}/day ×${r.growth} → ${r.untilPerDay}/day`, `${r.allowance}/provider`,
          r.usage.map((u) => `${u.provider} ${u.used}`).join(', ') || '-',
        ])));
      });
    });
  warmup.command('stop <senderDomain>').description('end a warm-up: the domain sends at full volume').action(async (domain: string) => {
    await withDatabase(async (db) => {
      if (!(await warmups(db).stop(domain))) throw new InputError(`${printable(domain)} has no warm-up: nothing stopped (see "delivery warmup list")`, 'NOT_FOUND');
      console.log(`${domain}: warm-up stopped`);
    });
  });
}
