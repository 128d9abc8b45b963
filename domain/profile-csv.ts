// Profile CSV → validated profiles, or the reasons each bad row is refused. Pure: no I/O (the streaming
// import in client/profile-file.ts reads the file and uses the same header and row rules).
import { parse } from 'csv-parse/sync';
import { isValidAddress } from './address';
import { attributeOf, type AttributeValue, type ProfileData } from './profile-fields';

export type ImportedProfile = ProfileData;

export interface RejectedRow {
  /** Record number in the file, the header being record 1 (a quoted field may span several lines). */
  row: number;
  reason: string;
}

export type CsvCheck =
  | { ok: true; profiles: ImportedProfile[]; rejected: RejectedRow[] }
  | { ok: false; error: string };

const COLUMNS = ['email', 'firstName', 'lastName', 'language', 'country', 'optOut'] as const;
type ProfileColumn = (typeof COLUMNS)[number];
export const ATTRIBUTE_TYPES = ['number', 'date', 'text'] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

/** One column of the file: a profile field, or an attribute (typed by its header, "score:number", or by each value). */
export type CsvColumn = { field: ProfileColumn } | { attribute: string; type?: AttributeType };

const TRUE = new Set(['true', '1', 'yes', 'y']);
const FALSE = new Set(['false', '0', 'no', 'n', '']);
const MAX_FIELD = 1000;
/** A number as people write one in a file: no leading zero (a zip code "01234" or a phone number stays text), no exponent. */
const NUMBER = /^-?(0|[1-9]\d{0,14})(\.\d{1,10})?$/;
/** In a column declared :number, leading zeros are allowed. */
const DECLARED_NUMBER = /^-?\d{1,15}(\.\d{1,10})?$/;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function parseProfileCsv(content: Buffer): CsvCheck {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    return { ok: false, error: NOT_UTF8 };
  }
  let rows: string[][];
  try {
    rows = parse(text, CSV_OPTIONS);
  } catch (e) {
    return { ok: false, error: `the file is not valid CSV: ${(e as Error).message}` };
  }
  if (rows.length === 0) return { ok: false, error: EMPTY_FILE };
  const header = csvColumns(rows[0]);
  if (!header.ok) return header;
  const profiles: ImportedProfile[] = [];
  const rejected: RejectedRow[] = [];
  rows.slice(1).forEach((cells, i) => {
    const result = csvProfile(header.columns, cells);
    if (typeof result === 'string') rejected.push({ row: i + 2, reason: result });
    else profiles.push(result);
  });
  return { ok: true, profiles, rejected };
}

export const CSV_OPTIONS = { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true } as const;
export const NOT_UTF8 = 'the file is not UTF-8 text: convert it first (e.g. iconv -f latin1 -t utf-8 in.csv > out.csv)';
export const EMPTY_FILE = 'the file is empty: it needs a header row with at least an "email" column';

/** The header row → what each column holds. */
export function csvColumns(header: string[]): { ok: true; columns: CsvColumn[] } | { ok: false; error: string } {
  const columns: CsvColumn[] = [];
  for (const cell of header) {
    const typed = /^(.+?):(number|date|text)$/.exec(cell.trim());
    const name = typed ? typed[1].trim() : cell.trim();
    const field = canonicalColumn(name);
    if (field && typed) return { ok: false, error: `the column "${cell}" is a profile field: only attribute columns take a type (":number", ":date", ":text")` };
    if (!field && /["\\]/.test(name)) return { ok: false, error: `the column "${cell}": an attribute name cannot hold quotes or backslashes` };
    if (name === '') return { ok: false, error: 'the header has an empty column name: name every column' };
    // Set on an object, this name replaces its prototype instead of storing a value.
    if (!field && name === '__proto__') return { ok: false, error: `the column "${cell}": "__proto__" cannot name an attribute; rename it` };
    columns.push(field ? { field } : { attribute: name, type: typed?.[2] as AttributeType | undefined });
  }
  const names = columns.map((c) => ('field' in c ? c.field : c.attribute));
  if (!names.includes('email')) {
    return { ok: false, error: `the header row has no "email" column (found: ${header.join(', ') || 'nothing'}); the first row must name the columns` };
  }
  const duplicate = names.find((h, i) => names.indexOf(h) !== i);
  if (duplicate) return { ok: false, error: `the header names the column "${duplicate}" twice` };
  return { ok: true, columns };
}

/** One data row → a profile, or why it is refused. An empty attribute cell is no value (it is not stored). */
export function csvProfile(columns: CsvColumn[], cells: string[]): ImportedProfile | string {
  if (cells.length !== columns.length) return `expected ${columns.length} fields (as in the header), found ${cells.length}`;
  const p: ImportedProfile = { email: '', firstName: '', lastName: '', language: '', country: '', optOut: false, attributes: {} };
  for (let c = 0; c < columns.length; c++) {
    const column = columns[c];
    const value = cells[c];
    const name = 'field' in column ? column.field : column.attribute;
    if (value.length > MAX_FIELD) return `${name}: longer than ${MAX_FIELD} characters`;
    // Control characters would reach headers and terminals; a profile field is one line.
    if (/[\0-\x08\x0B\x0C\x0E-\x1F\x7F]/.test(value)) return `${name}: contains a control character (NUL, escape…): remove it`;
    if ('field' in column) {
      if (/[\r\n]/.test(value)) return `${name}: contains a line break`;
      if (column.field === 'optOut') {
        const v = value.toLowerCase();
        if (!TRUE.has(v) && !FALSE.has(v)) return `optOut: "${value}" is not a yes/no value (use true/false, yes/no or 1/0)`;
        p.optOut = TRUE.has(v);
      } else p[column.field] = value;
    } else if (value !== '') {
      const typed = attributeValue(value, column.type);
      if (typeof typed === 'object') return `${name}: ${typed.problem}`;
      p.attributes[name] = typed;
    }
  }
  if (p.email === '') return 'email: empty';
  if (!isValidAddress(p.email)) return `email: "${p.email}" is not a valid address`;
  return p;
}

/**
 * How a value is stored: a column typed in its header ("score:number") holds that type or the row is refused;
 * otherwise each value by its form: a plain number → number, an ISO day or time → date (a day stays
 * "2026-01-31", a time becomes UTC "2026-01-31T08:00:00.000Z"), anything else → text.
 */
export function attributeValue(value: string, type?: AttributeType): AttributeValue | { problem: string } {
  if (type === 'text') return value;
  if (type === 'number' ? DECLARED_NUMBER.test(value) : type !== 'date' && NUMBER.test(value)) return Number(value);
  const date = isoDate(value);
  if (type !== 'number' && date !== undefined) return date;
  if (type === 'number') return { problem: `"${value}" is not a number (the header declares it :number; write 1234.5, no thousands separator)` };
  if (type === 'date') return { problem: `"${value}" is not a date (the header declares it :date; write 2026-01-31 or 2026-01-31T09:00:00Z)` };
  return value;
}

function isoDate(value: string): string | undefined {
  if (ISO_DAY.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(value) ? value : undefined;
  }
  if (!ISO_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** A key column's name is spliced into SQL (an expression index must see it written out): an identifier only. */
export const KEY_NAME = /^[A-Za-z][A-Za-z0-9_]{0,49}$/;

/**
 * `--key <column>` → the attribute that identifies a profile in an import (an external id such as customerId), or
 * undefined for the address (email, the default), or why the name cannot be a key.
 */
export function parseImportKey(column: string): { ok: true; key?: string } | { ok: false; error: string } {
  const field = canonicalColumn(column);
  if (field === 'email') return { ok: true };
  if (field) return { ok: false, error: `--key ${column}: ${field} does not identify a profile; use email (the default) or an attribute column such as customerId` };
  if (!KEY_NAME.test(column)) return { ok: false, error: `--key "${column}": a key column is named with letters, digits and _ (starting with a letter, at most 50), e.g. customerId` };
  return { ok: true, key: column };
}

/** Why a file cannot be imported with this key (the header lacks it), or undefined. */
export function keyColumnProblem(columns: CsvColumn[], key: string): string | undefined {
  if (columns.some((c) => 'attribute' in c && c.attribute === key)) return undefined;
  const names = columns.map((c) => ('field' in c ? c.field : c.attribute)).join(', ');
  return `the header has no column "${key}" for --key ${key} (columns: ${names})`;
}

/** Why a row cannot be imported with this key (no value to match it by), or undefined. */
export function keyValueProblem(profile: ImportedProfile, key: string): string | undefined {
  return attributeOf(profile.attributes, key) === undefined ? `${key}: empty, but it is the import's key (--key ${key}): every row needs one` : undefined;
}

/** Header names are matched loosely (First Name, first_name, firstname → firstName). */
function canonicalColumn(name: string): ProfileColumn | undefined {
  const key = name.trim().toLowerCase().replace(/[\s_-]/g, '');
  return COLUMNS.find((c) => c.toLowerCase() === key);
}
