// Audience conditions: the grammar of `audience.where`, segments and list membership, checked into a typed tree.
// Pure: the spec is checked with it (workflow included); the store turns the tree into one SQL statement
// (store/audience-sql.ts). Every problem names its path and the fix.
import { PROFILE_FIELDS } from './profile-fields';
import { parseMoment, periodMs, type Moment } from './moments';

export { momentAt, parseMoment, periodMs, type Moment } from './moments';

export const OPERATORS = ['eq', 'ne', 'in', 'nin', 'contains', 'startsWith', 'endsWith', 'exists', 'gt', 'gte', 'lt', 'lte', 'between'] as const;
export type Operator = (typeof OPERATORS)[number];
export const BEHAVIOURS = ['received', 'opened', 'clicked', 'bounced', 'unsubscribed'] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

const TEXT_FIELDS = ['email', 'firstName', 'lastName', 'language', 'country'] as const;
const DATE_FIELDS = ['createdAt', 'updatedAt'] as const;
export type TextField = (typeof TEXT_FIELDS)[number];
export type DateField = (typeof DATE_FIELDS)[number];

/** What a comparison compares: attribute values keep the type they were imported with. */
export type Operand = { type: 'text'; value: string } | { type: 'number'; value: number } | { type: 'date'; value: Moment };

export type FieldRef =
  | { kind: 'text'; column: TextField }
  | { kind: 'optOut' }
  | { kind: 'date'; column: DateField }
  | { kind: 'attribute'; name: string };

export type Comparison = 'eq' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains' | 'startsWith' | 'endsWith';

export type Condition =
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'compare'; field: FieldRef; op: Comparison; operand: Operand }
  /** `in`: equal to one of the operands (bound as one list, however long). */
  | { kind: 'oneOf'; field: FieldRef; operands: Operand[] }
  | { kind: 'flag'; value: boolean }
  | { kind: 'exists'; field: FieldRef }
  | { kind: 'behaviour'; behaviour: Behaviour; delivery?: string; withinMs?: number }
  | { kind: 'segment'; name: string; path: string }
  | { kind: 'list'; name: string; path: string };

export type ConditionCheck = { ok: true; condition: Condition } | { ok: false; problems: string[] };

/**
 * What a condition may hold, so that every condition that validates can be evaluated by both databases (SQLite
 * refuses expressions deeper than 1,000; a deep enough nesting overflows any parser's stack): checked when a
 * spec or segment is read, and again once segments are inlined at the preparation.
 */
export const CONDITION_LIMITS = {
  /** Levels of and / or / not nesting. */
  depth: 20,
  /** Conditions in all: fields, groups, behaviours, segments and lists (an `in` list counts as one). */
  conditions: 500,
  /** Values of one `in` or `nin` list. */
  values: 100_000,
};

/** Segment and list names: what a shell and a URL carry without quoting surprises. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
export const NAME_RULE = 'letters, digits, "_", "." and "-" (up to 100, starting with a letter or digit)';
const FIELD_HELP = `use ${[...PROFILE_FIELDS, ...DATE_FIELDS].join(', ')}, attributes.<name>, and/or/not, segment, list or ${BEHAVIOURS.join('/')}`;

/** Checks a condition as written in a spec or a segment file; `path` prefixes every problem. */
export function parseCondition(input: unknown, path = 'where'): ConditionCheck {
  const problems: string[] = [];
  // Reading stops well past the limits (a hostile input does no more work); the limits are judged on the tree.
  const budget = { left: 4 * CONDITION_LIMITS.conditions, exceededAt: undefined as string | undefined };
  const condition = conditionAt(input, path, problems, { depth: 0, budget });
  if (budget.exceededAt) problems.splice(0, problems.length, `${path}: holds more than ${CONDITION_LIMITS.conditions} conditions: put long lists of values in one "in" list`);
  const tooLarge = condition && !problems.length ? conditionLimitProblem(condition, path, '') : undefined;
  if (tooLarge) problems.push(tooLarge);
  return problems.length || !condition ? { ok: false, problems: problems.length ? problems : [`${path}: is not a condition`] } : { ok: true, condition };
}

/** How deep and how large a condition is (segments as written: resolving them may add more). */
export function conditionSize(c: { kind: string; items?: unknown[]; item?: unknown }): { depth: number; conditions: number } {
  if ((c.kind === 'and' || c.kind === 'or') && c.items) {
    const inner = c.items.map((i) => conditionSize(i as typeof c));
    return { depth: 1 + Math.max(0, ...inner.map((i) => i.depth)), conditions: 1 + inner.reduce((n, i) => n + i.conditions, 0) };
  }
  if (c.kind === 'not' && c.item) {
    const inner = conditionSize(c.item as typeof c);
    return { depth: 1 + inner.depth, conditions: 1 + inner.conditions };
  }
  return { depth: 0, conditions: 1 };
}

/** Why a condition is too large to evaluate, or undefined (`including`: " (its segments included)" once they are inlined). */
export function conditionLimitProblem(c: { kind: string; items?: unknown[]; item?: unknown }, path: string, including = ' (its segments included)'): string | undefined {
  const { depth, conditions } = conditionSize(c);
  if (depth > CONDITION_LIMITS.depth) return `${path}: nested ${depth} levels deep${including}, more than ${CONDITION_LIMITS.depth}: flatten the condition`;
  if (conditions > CONDITION_LIMITS.conditions) return `${path}: holds ${conditions} conditions${including}, more than ${CONDITION_LIMITS.conditions}: put long lists of values in one "in" list`;
  return undefined;
}

/** Segment and list names a condition refers to, each with where. */
export function references(c: Condition): Array<{ kind: 'segment' | 'list'; name: string; path: string }> {
  switch (c.kind) {
    case 'and': case 'or': return c.items.flatMap(references);
    case 'not': return references(c.item);
    case 'segment': case 'list': return [{ kind: c.kind, name: c.name, path: c.path }];
    default: return [];
  }
}

const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Walk {
  depth: number;
  budget: { left: number; exceededAt?: string };
}

function conditionAt(input: unknown, path: string, problems: string[], walk: Walk): Condition | undefined {
  // Checked before going deeper: a condition nested thousands of levels must be refused, not overflow the stack.
  if (walk.depth > CONDITION_LIMITS.depth) {
    problems.push(`${path}: nested more than ${CONDITION_LIMITS.depth} levels deep (and / or / not): flatten the condition`);
    return undefined;
  }
  if (walk.budget.left < 0) return undefined;
  if (!isObject(input)) {
    problems.push(`${path}: expects a condition object such as { "country": "FR" } or { "and": [ … ] }, got ${show(input)}`);
    return undefined;
  }
  const keys = Object.keys(input);
  if (keys.length === 0) {
    problems.push(`${path}: is empty: give at least one field, or { "and" | "or" | "not": … }`);
    return undefined;
  }
  // Several keys in one object are ANDed (the original form: { "country": ["GB","FR"], "language": "en" }).
  const parts = keys.map((key) => keyCondition(key, input[key], `${path}.${key}`, problems, walk)).filter((c): c is Condition => c !== undefined);
  if (parts.length !== keys.length) return undefined;
  return parts.length === 1 ? parts[0] : { kind: 'and', items: parts };
}

function keyCondition(key: string, value: unknown, path: string, problems: string[], walk: Walk): Condition | undefined {
  if (--walk.budget.left < 0) {
    walk.budget.exceededAt ??= path;
    return undefined;
  }
  const deeper = { ...walk, depth: walk.depth + 1 };
  if (key === 'and' || key === 'or') {
    if (!Array.isArray(value) || value.length === 0) {
      problems.push(`${path}: expects a non-empty list of conditions, got ${show(value)}`);
      return undefined;
    }
    const items = [];
    for (let i = 0; i < value.length && walk.budget.left >= 0; i++) items.push(conditionAt(value[i], `${path}[${i}]`, problems, deeper));
    return items.length === value.length && items.every((c) => c) ? { kind: key, items: items as Condition[] } : undefined;
  }
  if (key === 'not') {
    const item = conditionAt(value, path, problems, deeper);
    return item && { kind: 'not', item };
  }
  if (key === 'segment' || key === 'list') {
    if (typeof value !== 'string' || !NAME.test(value)) {
      problems.push(`${path}: expects the name of a ${key} (${NAME_RULE}), got ${show(value)}`);
      return undefined;
    }
    return { kind: key, name: value, path };
  }
  if ((BEHAVIOURS as readonly string[]).includes(key)) return behaviour(key as Behaviour, value, path, problems);
  const field = fieldRef(key);
  if (!field) {
    problems.push(`${path}: unknown field "${key}"; ${FIELD_HELP}`);
    return undefined;
  }
  if (isObject(value)) {
    const ops = Object.keys(value);
    if (ops.length === 0) {
      problems.push(`${path}: is empty: give an operator (${OPERATORS.join(', ')}) or a value`);
      return undefined;
    }
    const parts = ops.map((op) => operation(field, op, value[op], `${path}.${op}`, problems));
    if (parts.some((p) => !p)) return undefined;
    return parts.length === 1 ? parts[0] : { kind: 'and', items: parts as Condition[] };
  }
  // A bare value is `eq`, a list is `in`.
  return operation(field, Array.isArray(value) ? 'in' : 'eq', value, path, problems);
}

function fieldRef(key: string): FieldRef | undefined {
  if ((TEXT_FIELDS as readonly string[]).includes(key)) return { kind: 'text', column: key as TextField };
  if (key === 'optOut') return { kind: 'optOut' };
  if ((DATE_FIELDS as readonly string[]).includes(key)) return { kind: 'date', column: key as DateField };
  const m = /^attributes\.([^"\\\x00-\x1F]{1,100})$/.exec(key);
  return m ? { kind: 'attribute', name: m[1] } : undefined;
}

function behaviour(name: Behaviour, value: unknown, path: string, problems: string[]): Condition | undefined {
  const before = problems.length;
  if (value === true) return { kind: 'behaviour', behaviour: name };
  if (!isObject(value)) {
    problems.push(`${path}: expects { "delivery": "<delivery id>" | "any", "within": "30d" } (both optional), got ${show(value)}`);
    return undefined;
  }
  const c: Condition & { kind: 'behaviour' } = { kind: 'behaviour', behaviour: name };
  for (const [k, v] of Object.entries(value)) {
    if (k === 'delivery') {
      if (typeof v !== 'string' || v.trim() === '') problems.push(`${path}.delivery: expects a delivery id or "any", got ${show(v)}`);
      else if (v !== 'any') c.delivery = v;
    } else if (k === 'within') {
      const ms = typeof v === 'string' ? periodMs(v) : undefined;
      if (ms === undefined) problems.push(`${path}.within: expects a period such as "30d", "12h" or "2w", got ${show(v)}`);
      else c.withinMs = ms;
    } else {
      problems.push(`${path}: unknown field "${k}"; use delivery and within`);
    }
  }
  return problems.length === before ? c : undefined;
}

function operation(field: FieldRef, op: string, value: unknown, path: string, problems: string[]): Condition | undefined {
  const fail = (message: string) => {
    problems.push(`${path}: ${message}`);
    return undefined;
  };
  if (!(OPERATORS as readonly string[]).includes(op)) return fail(`unknown operator "${op}"; use ${OPERATORS.join(', ')}`);
  const o = op as Operator;
  if (o === 'exists') {
    if (typeof value !== 'boolean') return fail(`expects true or false, got ${show(value)}`);
    if (field.kind === 'optOut' || field.kind === 'date') return fail(`every profile has ${field.kind === 'optOut' ? 'optOut' : field.column}: exists does not apply`);
    const exists: Condition = { kind: 'exists', field };
    return value ? exists : { kind: 'not', item: exists };
  }
  if (field.kind === 'optOut') {
    if (o !== 'eq' && o !== 'ne') return fail('optOut is true or false: use eq or ne');
    if (typeof value !== 'boolean') return fail(`expects true or false, got ${show(value)}`);
    return { kind: 'flag', value: o === 'eq' ? value : !value };
  }
  if (o === 'in' || o === 'nin') {
    if (!Array.isArray(value) || value.length === 0) return fail(`expects a non-empty list of values, got ${show(value)}`);
    if (value.length > CONDITION_LIMITS.values) return fail(`holds ${value.length} values, more than ${CONDITION_LIMITS.values}: import them as a list ("delivery profiles import … --list") and target it`);
    const before = problems.length;
    const items: Operand[] = [];
    // The first few problems are enough to fix a long list.
    for (let i = 0; i < value.length && problems.length - before < 5; i++) {
      const item = operand(field, 'eq', value[i], `${path}[${i}]`, problems);
      if (item) items.push(item);
    }
    if (problems.length > before) return undefined;
    const any: Condition = items.length === 1 ? compare(field, 'eq', items[0]) : { kind: 'oneOf', field, operands: items };
    return o === 'in' ? any : { kind: 'not', item: any };
  }
  if (o === 'between') {
    if (!Array.isArray(value) || value.length !== 2) return fail(`expects [low, high] (both included), got ${show(value)}`);
    const [low, high] = value.map((v, i) => operand(field, 'gte', v, `${path}[${i}]`, problems));
    if (!low || !high) return undefined;
    if (low.type !== high.type) return fail(`expects two numbers or two dates, got ${show(value)}`);
    return { kind: 'and', items: [compare(field, 'gte', low), compare(field, 'lte', high)] };
  }
  const comparison: Comparison = o === 'ne' ? 'eq' : o;
  const v = operand(field, comparison, value, path, problems);
  if (!v) return undefined;
  return o === 'ne' ? { kind: 'not', item: compare(field, 'eq', v) } : compare(field, comparison, v);
}

function compare(field: FieldRef, op: Comparison, operand: Operand): Condition {
  return { kind: 'compare', field, op, operand };
}

/** The operand of one comparison, typed by the field and the operator (a number compares as a number). */
function operand(field: FieldRef, op: Comparison, value: unknown, path: string, problems: string[]): Operand | undefined {
  const fail = (message: string) => {
    problems.push(`${path}: ${message}`);
    return undefined;
  };
  const ordered = op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte';
  const textual = op === 'contains' || op === 'startsWith' || op === 'endsWith';
  if (field.kind === 'date') {
    if (!ordered) return fail(`${field.column} is a date: use gt, gte, lt, lte or between`);
    const m = typeof value === 'string' ? parseMoment(value) : undefined;
    return m ? { type: 'date', value: m } : fail(`expects a date (2026-01-31, 2026-01-31T09:00:00Z, or relative: "-30d", "-12h", "-2w"), got ${show(value)}`);
  }
  if (field.kind === 'text') {
    if (ordered) return fail(`${field.column} is text: gt, gte, lt, lte and between compare numbers and dates; use eq, in, contains, startsWith or endsWith`);
    if (typeof value !== 'string') return fail(`expects text, got ${show(value)}`);
    if (textual && value === '') return fail(`expects some text, got ""`);
    return { type: 'text', value };
  }
  // Attributes keep the type they were imported with: the operand says which comparison is meant.
  if (textual) {
    if (typeof value !== 'string' || value === '') return fail(`expects some text, got ${show(value)}`);
    return { type: 'text', value };
  }
  if (ordered) {
    if (typeof value === 'number' && Number.isFinite(value)) return { type: 'number', value };
    const m = typeof value === 'string' ? parseMoment(value) : undefined;
    if (m) return { type: 'date', value: m };
    return fail(`expects a number, or a date (2026-01-31, "-30d"), got ${show(value)}`);
  }
  if (typeof value === 'number' && Number.isFinite(value)) return { type: 'number', value };
  if (typeof value === 'string') return { type: 'text', value };
  return fail(`expects text or a number, got ${show(value)}`);
}
