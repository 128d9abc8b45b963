// `delivery shaping rules`: which replies slow a mailbox provider down or suspend it (domain/shaping-rules.ts). The
// built-in rules follow the providers' published replies; ops add their own (tried first) or turn one off.
import type { Command } from 'commander';
import { BUILT_IN_RULES, describeAction, parseDuration, type ShapingRule } from '../domain/shaping-rules';
import { shapingRules } from '../store/shaping-rules';
import { withDatabase } from './audience-cli';
import { InputError } from './errors';
import { printable, table } from './format';

interface AddOptions {
  action: string;
  for?: string;
  code?: string;
  enhanced?: string;
  text?: string;
  provider?: string;
}

const WEEK_MS = 7 * 24 * 3600_000;

/** The rule the options describe, or an InputError naming the option and the fix. */
export function ruleOf(name: string, o: AddOptions): ShapingRule {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new InputError(`"${printable(name)}" is not a rule name: use lower-case letters, digits and dashes, such as gmx-too-many`);
  if (o.code === undefined && o.enhanced === undefined && o.text === undefined) {
    throw new InputError('a rule needs at least one of --code, --enhanced and --text (a rule matching every reply would slow every provider down)');
  }
  const code = o.code === undefined ? undefined : Number(o.code);
  if (code !== undefined && !(/^4\d\d$/.test(o.code!))) throw new InputError(`--code must be a temporary reply code, 400 to 499 (got "${printable(o.code!)}"): a 5xx is a refusal, not a request to slow down`);
  if (o.enhanced !== undefined && !/^4\.\d{1,3}\.\d{1,3}$/.test(o.enhanced)) throw new InputError(`--enhanced must be a temporary enhanced status code such as 4.7.28 (got "${printable(o.enhanced)}")`);
  if (o.text !== undefined) {
    try {
      new RegExp(o.text, 'i');
    } catch (e) {
      throw new InputError(`--text must be a regular expression (${(e as Error).message})`);
    }
  }
  if (o.action !== 'slow' && o.action !== 'suspend') throw new InputError(`--action must be slow or suspend (got "${printable(o.action)}")`);
  let action: ShapingRule['action'] = { kind: 'slow' };
  if (o.action === 'suspend') {
    const forMs = o.for === undefined ? undefined : parseDuration(o.for);
    if (forMs === undefined || forMs < 1000 || forMs > WEEK_MS) throw new InputError(`--for must be a duration from 1s to 7d such as 30m or 2h (got "${printable(o.for ?? '')}")`);
    action = { kind: 'suspend', forMs };
  } else if (o.for !== undefined) {
    throw new InputError('--for goes with --action suspend only');
  }
  return { name, action, ...(code !== undefined ? { code } : {}), ...(o.enhanced ? { enhanced: o.enhanced } : {}), ...(o.text ? { text: o.text } : {}), ...(o.provider ? { provider: o.provider } : {}) };
}

function matches(r: ShapingRule): string {
  return [r.code && `code ${r.code}`, r.enhanced && `enhanced ${r.enhanced}`, r.text && `text /${r.text}/i`, r.provider && `provider ${r.provider}`].filter(Boolean).join(', ');
}

export function registerShapingCommands(program: Command): void {
  const shaping = program.command('shaping').description('traffic shaping: how the engine reacts when a mailbox provider asks it to slow down');
  const rules = shaping.command('rules').description('the replies that slow a provider down or suspend it (ops\' rules first, then the built-in ones)');
  rules.command('list').option('--json', 'print as JSON').description('every rule, in the order they are tried').action(async (opts: { json?: boolean }) => {
    await withDatabase(async (db) => {
      const list = await shapingRules(db).list();
      if (opts.json) return console.log(JSON.stringify(list, null, 2));
      console.log(table(['Rule', 'Matches (temporary replies only)', 'Action', 'From'], list.map((r) => [
        r.name, matches(r), r.off ? 'off' : describeAction(r.action), r.builtIn ? 'built-in' : 'ops',
      ])));
    });
  });
  rules.command('add <name>')
    .description('add a rule (or replace the one of that name): a temporary reply that matches slows its provider down or suspends it')
    .requiredOption('--action <slow|suspend>', 'slow: halve the provider\'s rate; suspend: send it nothing for --for')
    .option('--for <duration>', 'how long a suspension lasts: 30m, 2h…')
    .option('--code <4xx>', 'the reply code')
    .option('--enhanced <4.x.y>', 'the enhanced status code, exactly')
    .option('--text <regex>', 'a regular expression over the reply (case-insensitive)')
    .option('--provider <name>', 'only replies about this provider or domain')
    .action(async (name: string, opts: AddOptions) => {
      const rule = ruleOf(name, opts);
      await withDatabase(async (db) => {
        const done = await shapingRules(db).add(rule);
        console.log(`${name}: ${describeAction(rule.action)} on ${matches(rule)} (${done}; sending attempts started from now on use it)`);
      });
    });
  rules.command('remove <name>').description('remove a rule of ops, or turn a built-in one off').action(async (name: string) => {
    await withDatabase(async (db) => {
      const done = await shapingRules(db).remove(name);
      if (done === 'none') throw new InputError(`no rule "${printable(name)}" to remove (see "delivery shaping rules list"; built-in: ${BUILT_IN_RULES.map((r) => r.name).join(', ')})`, 'NOT_FOUND');
      console.log(`${name}: ${done}`);
    });
  });
}
