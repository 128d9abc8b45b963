// An audience condition as ONE parameterised SQL predicate over `"Profile" p`, the same on SQLite and Postgres.
// Values (and attribute names) are always bound; only column names from fixed lists are written into the SQL.
// Every leaf is two-valued (a missing attribute compares false, never NULL), so `not` is the exact complement:
// `{ "not": { "attributes.plan": "pro" } }` keeps the profiles with no plan.
// Postgres reads attributes from "attributesJson", the jsonb copy it keeps of the text column: parsing the text per
// row and per leaf was a third of a 1M-profile count.
import { Prisma } from './generated/sqlite/client';
import { momentAt, type Condition, type FieldRef, type Operand } from '../domain/audience';
import { jsonNumbers, jsonStrings } from './json-lists';

/** A condition whose segments are replaced by their conditions and whose lists are known by id. */
export type ResolvedCondition = Exclude<Condition, { kind: 'segment' | 'list' | 'and' | 'or' | 'not' }>
  | { kind: 'and' | 'or'; items: ResolvedCondition[] }
  | { kind: 'not'; item: ResolvedCondition }
  | { kind: 'list'; listId: number };

export interface SqlContext {
  postgres: boolean;
  /** What relative dates and `within` periods count from (one instant for a whole preparation). */
  now: Date;
  /**
   * The statement reads profiles in id order, a page at a time: each subquery is then looked up per profile.
   * Postgres would otherwise join it whole (a merge or hash semi-join) on every page, which makes a long
   * preparation quadratic; `OFFSET 0` keeps a subquery from being pulled up into a join.
   */
  paged?: boolean;
}

const FALSE = Prisma.raw('FALSE');
const sql = Prisma.sql;

export function conditionSql(c: ResolvedCondition, ctx: SqlContext): Prisma.Sql {
  switch (c.kind) {
    case 'and': case 'or':
      return balanced(c.items.map((i) => conditionSql(i, ctx)), c.kind === 'and' ? ' AND ' : ' OR ');
    case 'oneOf':
      return oneOfSql(c.field, c.operands, ctx);
    case 'not':
      return sql`(NOT ${conditionSql(c.item, ctx)})`;
    case 'flag':
      return sql`(p."optOut" = ${ctx.postgres ? c.value : Number(c.value)})`;
    case 'exists':
      return twoValued(sql`${textOf(c.field, ctx)} <> ''`);
    case 'compare':
      return twoValued(comparison(c.field, c.op, c.operand, ctx));
    case 'list':
      // Correlated (a primary-key lookup per profile): an IN list would let SQLite drive the scan from the
      // address index and sort every page, instead of reading profiles in id order.
      // SQLite would pick the primary key and read each row for its status: the covering index halves the time.
      return sql`EXISTS (SELECT 1 FROM "ListSubscription" l${ctx.postgres ? Prisma.empty : Prisma.raw(' INDEXED BY "ListSubscription_listId_address_status_idx"')} WHERE l."listId" = ${c.listId} AND l."address" = p."addressKey" AND l."status" = 'subscribed'${fence(ctx)})`;
    case 'behaviour':
      return behaviourSql(c, ctx);
  }
}

/**
 * `(a AND b AND c …)` as a balanced tree of groups of 8: SQLite parses a flat chain into an expression as deep as
 * the chain is long (it refuses beyond 1,000), a balanced one is only log₈ n deep.
 */
function balanced(parts: Prisma.Sql[], op: string): Prisma.Sql {
  if (parts.length <= 8) return sql`(${Prisma.join(parts, op)})`;
  const size = Math.ceil(parts.length / 8);
  const groups = [];
  for (let i = 0; i < parts.length; i += size) groups.push(balanced(parts.slice(i, i + size), op));
  return sql`(${Prisma.join(groups, op)})`;
}

/**
 * `in`: the values bound as one JSON list, whatever its length (one OR per value would be as deep as the list is
 * long). Text values compare with the field's text, numbers with values stored as numbers, as `eq` does.
 */
function oneOfSql(field: FieldRef, operands: Operand[], ctx: SqlContext): Prisma.Sql {
  const texts = operands.filter((o) => o.type === 'text').map((o) => String(o.value));
  const numbers = operands.filter((o) => o.type === 'number').map((o) => Number(o.value));
  const parts: Prisma.Sql[] = [];
  if (texts.length) parts.push(twoValued(sql`${textOf(field, ctx)} IN (${jsonStrings(texts, ctx.postgres)})`));
  if (numbers.length) {
    if (field.kind !== 'attribute') throw new Error(`${field.kind} is not compared with numbers`);
    parts.push(twoValued(sql`${numericOf(field.name, ctx)} IN (${jsonNumbers(numbers, ctx.postgres)})`));
  }
  return parts.length === 1 ? parts[0] : sql`(${Prisma.join(parts, ' OR ')})`;
}

function fence(ctx: SqlContext): Prisma.Sql {
  return ctx.paged && ctx.postgres ? Prisma.raw(' OFFSET 0') : Prisma.empty;
}

/** NULL (a missing attribute, a value of another type) reads as false. */
function twoValued(predicate: Prisma.Sql): Prisma.Sql {
  return sql`COALESCE((${predicate}), ${FALSE})`;
}

function column(name: string): Prisma.Sql {
  return Prisma.raw(`p."${name}"`); // names from the grammar's fixed lists only
}

/** The field as text (numbers in their JSON form), NULL when an attribute is missing. */
function textOf(field: FieldRef, ctx: SqlContext): Prisma.Sql {
  if (field.kind === 'text') return column(field.column);
  if (field.kind !== 'attribute') throw new Error(`${field.kind} has no text form`);
  return ctx.postgres
    ? sql`(p."attributesJson" ->> ${field.name})`
    : sql`CAST(json_extract(p."attributes", ${jsonPath(field.name)}) AS TEXT)`;
}

function jsonPath(name: string): string {
  return `$."${name}"`; // the grammar refuses quotes and backslashes in attribute names; the path is bound anyway
}

const OPS: Record<'eq' | 'gt' | 'gte' | 'lt' | 'lte', string> = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' };

function comparison(field: FieldRef, op: keyof typeof OPS | 'contains' | 'startsWith' | 'endsWith', operand: Operand, ctx: SqlContext): Prisma.Sql {
  if (op === 'contains' || op === 'startsWith' || op === 'endsWith') {
    const text = textOf(field, ctx);
    const value = String(operand.value);
    const length = [...value].length; // characters, as both databases count them
    if (op === 'contains') return ctx.postgres ? sql`strpos(${text}, ${value}) > 0` : sql`instr(${text}, ${value}) > 0`;
    if (op === 'startsWith') return sql`substr(${text}, 1, ${length}) = ${value}`;
    return ctx.postgres ? sql`right(${text}, ${length}) = ${value}` : sql`substr(${text}, ${-length}) = ${value}`;
  }
  const symbol = Prisma.raw(OPS[op]);
  if (field.kind === 'date') {
    const at = momentAt(operand.value as never, ctx.now).toISOString();
    return ctx.postgres
      ? sql`${column(field.column)} ${symbol} (${at}::timestamptz AT TIME ZONE 'UTC')`
      // Prisma writes "2026-01-31T09:00:00.000+00:00", SQL defaults "2026-01-31 09:00:00": julianday reads both.
      : sql`julianday(${column(field.column)}) ${symbol} julianday(${at})`;
  }
  if (field.kind === 'text') return sql`${column(field.column)} ${symbol} ${operand.value}`;
  if (field.kind !== 'attribute') throw new Error('optOut is compared as a flag');
  if (operand.type === 'text') return sql`${textOf(field, ctx)} ${symbol} ${operand.value}`;
  if (operand.type === 'number') return sql`${numericOf(field.name, ctx)} ${symbol} ${operand.value}`;
  // Dates are stored as ISO text (a day "2026-01-31", or a UTC time "2026-01-31T09:00:00.000Z"): as text in
  // that one form they order as time, byte by byte (COLLATE "C" on Postgres, whose default collation may not).
  const at = momentAt(operand.value, ctx.now).toISOString();
  const text = textOf(field, ctx);
  return ctx.postgres
    ? sql`(CASE WHEN ${text} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN (CASE WHEN length(${text}) = 10 THEN ${text} || 'T00:00:00.000Z' ELSE ${text} END) END) COLLATE "C" ${symbol} ${at}`
    : sql`(CASE WHEN ${text} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' THEN (CASE WHEN length(${text}) = 10 THEN ${text} || 'T00:00:00.000Z' ELSE ${text} END) END) ${symbol} ${at}`;
}

/** An attribute's value as a number when it is stored as one, else NULL: "10" imported as text is not 10. */
function numericOf(name: string, ctx: SqlContext): Prisma.Sql {
  return ctx.postgres
    ? sql`(CASE WHEN jsonb_typeof(p."attributesJson" -> ${name}) = 'number' THEN (p."attributesJson" -> ${name})::numeric END)`
    : sql`(CASE WHEN json_type(p."attributes", ${jsonPath(name)}) IN ('integer', 'real') THEN json_extract(p."attributes", ${jsonPath(name)}) END)`;
}

/** Whether the profile received, opened… (one delivery or any, within a period), from its sending logs and tracking events. */
function behaviourSql(c: Extract<Condition, { kind: 'behaviour' }>, ctx: SqlContext): Prisma.Sql {
  const since = c.withinMs === undefined ? undefined : new Date(ctx.now.getTime() - c.withinMs).toISOString();
  // Sending and tracking times are written by this code only, on SQLite as Prisma writes dates
  // ("2026-01-31T09:00:00.000+00:00"): compared as text in that form, they compare from the index.
  const after = (col: Prisma.Sql) => (since === undefined ? Prisma.empty
    : ctx.postgres ? sql` AND ${col} >= (${since}::timestamptz AT TIME ZONE 'UTC')` : sql` AND ${col} >= ${since.replace('Z', '+00:00')}`);
  const ofDelivery = (col: Prisma.Sql) => (c.delivery === undefined ? Prisma.empty : sql` AND ${col} = ${c.delivery}`);
  if (c.behaviour === 'received') {
    return sql`EXISTS (SELECT 1 FROM "SendingLog" s WHERE s."profileId" = p."id" AND s."status" = 'sent'${ofDelivery(sql`s."deliveryId"`)}${after(sql`s."sentAt"`)}${fence(ctx)})`;
  }
  if (c.behaviour === 'bounced') {
    // A failure's time: its asynchronous bounce, else its sending (a synchronous refusal: when its delivery started sending).
    const at = sql`COALESCE(s."bouncedAt", s."sentAt", (SELECT d."sendingStartedAt" FROM "Delivery" d WHERE d."id" = s."deliveryId"))`;
    return sql`EXISTS (SELECT 1 FROM "SendingLog" s WHERE s."profileId" = p."id" AND s."status" = 'failed' AND s."failureType" IN ('hard', 'soft')${ofDelivery(sql`s."deliveryId"`)}${after(at)}${fence(ctx)})`;
  }
  const kind = { opened: 'open', clicked: 'click', unsubscribed: 'unsubscribe' }[c.behaviour];
  return sql`EXISTS (SELECT 1 FROM "SendingLog" s JOIN "TrackingEvent" t ON t."sendingLogId" = s."id" WHERE s."profileId" = p."id" AND t."kind" = ${kind}${ofDelivery(sql`t."deliveryId"`)}${after(sql`t."at"`)}${fence(ctx)})`;
}
