// A whole list bound as ONE parameter (JSON text) that the database unpacks. Prisma's raw-query path costs
// per bound parameter (each one goes through its WebAssembly layer): a page of the preparation bound ~9,000
// (a 1,000-row insert of 7 columns, two IN lists of 1,000 keys), 41% of its CPU time. One parameter also
// lifts SQLite's cap on bound parameters, so these lists need no slicing.
import { Prisma } from './generated/sqlite/client';

/** A subquery of these strings, for `column IN (…)`. */
export function jsonStrings(values: string[], postgres: boolean): Prisma.Sql {
  const json = JSON.stringify(values);
  return postgres
    ? Prisma.sql`SELECT jsonb_array_elements_text(${json}::jsonb)`
    : Prisma.sql`SELECT "value" FROM json_each(${json})`;
}

export type JsonColumns = Record<string, 'text' | 'int' | 'bool'>;

/**
 * A table `"r"` of these rows for `FROM …`: each row is an array of its values in `columns` order, each
 * column named as in `columns`; a null value is SQL NULL.
 */
export function jsonTable(columns: JsonColumns, rows: unknown[][], postgres: boolean): Prisma.Sql {
  const json = JSON.stringify(rows);
  const names = Object.entries(columns);
  if (postgres) {
    const cells = names.map(([name, type], i) => `(e.value ->> ${i})${type === 'int' ? '::int' : type === 'bool' ? '::boolean' : ''} AS "${name}"`).join(', ');
    return Prisma.sql`(SELECT ${Prisma.raw(cells)} FROM jsonb_array_elements(${json}::jsonb) AS e(value)) AS "r"`;
  }
  const cells = names.map(([name], i) => `json_extract("value", '$[${i}]') AS "${name}"`).join(', ');
  return Prisma.sql`(SELECT ${Prisma.raw(cells)} FROM json_each(${json})) AS "r"`;
}

/** A subquery of these numbers (any, as compared with numeric values), for `expression IN (…)`. */
export function jsonNumbers(values: number[], postgres: boolean): Prisma.Sql {
  const json = JSON.stringify(values);
  return postgres
    ? Prisma.sql`SELECT (jsonb_array_elements_text(${json}::jsonb))::numeric`
    : Prisma.sql`SELECT "value" FROM json_each(${json})`;
}

/** A subquery of these whole numbers (ids), for `column IN (…)`. */
export function jsonInts(values: number[], postgres: boolean): Prisma.Sql {
  const json = JSON.stringify(values);
  return postgres
    ? Prisma.sql`SELECT (jsonb_array_elements_text(${json}::jsonb))::int`
    : Prisma.sql`SELECT "value" FROM json_each(${json})`;
}

/** Lists bound one parameter per value (Prisma's model API) go in slices: SQLite caps bound parameters. */
export const IN_LIST_MAX = 500;

export async function inSlices<V, R>(values: V[], query: (slice: V[]) => Promise<R[]>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < values.length; i += IN_LIST_MAX) results.push(...(await query(values.slice(i, i + IN_LIST_MAX))));
  return results;
}
