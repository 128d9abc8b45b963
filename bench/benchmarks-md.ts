// Rows appended to the tables of BENCHMARKS.md, where each run's figures are kept.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** Adds a row after the last row of a table of BENCHMARKS.md (rows match `rowOfTable`, the header `header`). */
export function appendRow(rowOfTable: RegExp, header: RegExp, row: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const last = lines.reduce((at, line, i) => (rowOfTable.test(line) ? i : at), -1);
  const at = last >= 0 ? last + 1 : lines.findIndex((line) => header.test(line)) + 2; // below the header and its |---| line
  if (at < 2) throw new Error(`BENCHMARKS.md has no table for ${row}`);
  lines.splice(at, 0, row);
  fs.writeFileSync(file, lines.join('\n'));
}

/** Adds a row at the end of the table under this header of BENCHMARKS.md. */
export function appendRowUnder(header: RegExp, row: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((line) => header.test(line));
  if (start < 0) throw new Error(`BENCHMARKS.md has no table for ${row}`);
  let at = start + 2; // below the header and its |---| line
  while (at < lines.length && lines[at].startsWith('|')) at++;
  lines.splice(at, 0, row);
  fs.writeFileSync(file, lines.join('\n'));
}
