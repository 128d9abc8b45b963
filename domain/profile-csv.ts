// Profile CSV → validated profiles, or the reasons each bad row is refused. Pure: no I/O.
import { parse } from 'csv-parse/sync';
import { isValidAddress } from './address';
import type { ProfileData } from './profile-fields';

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
const TRUE = new Set(['true', '1', 'yes', 'y']);
const FALSE = new Set(['false', '0', 'no', 'n', '']);
const MAX_FIELD = 1000;

export function parseProfileCsv(content: Buffer): CsvCheck {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    return { ok: false, error: 'the file is not UTF-8 text: convert it first (e.g. iconv -f latin1 -t utf-8 in.csv > out.csv)' };
  }
  let rows: string[][];
  try {
    rows = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true });
  } catch (e) {
    return { ok: false, error: `the file is not valid CSV: ${(e as Error).message}` };
  }
  if (rows.length === 0) return { ok: false, error: 'the file is empty: it needs a header row with at least an "email" column' };
  const header = rows[0].map((h) => canonicalColumn(h));
  if (!header.includes('email')) {
    return { ok: false, error: `the header row has no "email" column (found: ${rows[0].join(', ') || 'nothing'}); the first row must name the columns` };
  }
  const duplicate = header.find((h, i) => header.indexOf(h) !== i);
  if (duplicate) return { ok: false, error: `the header names the column "${duplicate}" twice` };

  const profiles: ImportedProfile[] = [];
  const rejected: RejectedRow[] = [];
  rows.slice(1).forEach((cells, i) => {
    const result = toProfile(header, cells);
    if (typeof result === 'string') rejected.push({ row: i + 2, reason: result });
    else profiles.push(result);
  });
  return { ok: true, profiles, rejected };
}

function toProfile(header: string[], cells: string[]): ImportedProfile | string {
  if (cells.length !== header.length) return `expected ${header.length} fields (as in the header), found ${cells.length}`;
  const p: ImportedProfile = { email: '', firstName: '', lastName: '', language: '', country: '', optOut: false, attributes: {} };
  for (let c = 0; c < header.length; c++) {
    const column = header[c];
    const value = cells[c];
    if (value.length > MAX_FIELD) return `${column}: longer than ${MAX_FIELD} characters`;
    // Control characters would reach headers and terminals; a profile field is one line.
    if (/[\0-\x08\x0B\x0C\x0E-\x1F\x7F]/.test(value)) return `${column}: contains a control character (NUL, escape…): remove it`;
    if ((COLUMNS as readonly string[]).includes(column) && /[\r\n]/.test(value)) return `${column}: contains a line break`;
    if (column === 'optOut') {
      const v = value.toLowerCase();
      if (!TRUE.has(v) && !FALSE.has(v)) return `optOut: "${value}" is not a yes/no value (use true/false, yes/no or 1/0)`;
      p.optOut = TRUE.has(v);
    } else if ((COLUMNS as readonly string[]).includes(column)) {
      (p as unknown as Record<string, string>)[column] = value;
    } else {
      p.attributes[column] = value;
    }
  }
  if (p.email === '') return 'email: empty';
  if (!isValidAddress(p.email)) return `email: "${p.email}" is not a valid address`;
  return p;
}

/** Header names are matched loosely (First Name, first_name, firstname → firstName). */
function canonicalColumn(name: string): string {
  const key = name.trim().toLowerCase().replace(/[\s_-]/g, '');
  return COLUMNS.find((c) => c.toLowerCase() === key) ?? name.trim();
}
