// Profile files streamed from disk: constant memory whatever their size (a batch of rows at a time).
// Without --skip-invalid the file is read twice: first to check every row (a bad row imports nothing),
// then to write it batch by batch.
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { CSV_OPTIONS, EMPTY_FILE, NOT_UTF8, csvColumns, csvProfile, keyColumnProblem, keyValueProblem, type CsvColumn, type ImportedProfile, type RejectedRow } from '../domain/profile-csv';
import { ensureKeyIndex, writeProfileBatch, type ImportMode, type ProfileColumnName } from '../store/profiles';
import type { Database } from '../store/prisma';
import { InputError } from './errors';
import { collectGarbage } from './memory';

/** Batches written between two garbage collections (client/memory.ts): the import's memory stays flat and low. */
const BATCHES_PER_COLLECTION = 10;

/** How many rejected rows a report lists (all are counted). */
const REJECTED_SHOWN = 100;

export interface ImportProgress {
  rows: number;
  inserted: number;
  updated: number;
  skipped: number;
  rejected: number;
  rowsPerSecond: number;
}

export interface ImportReport extends ImportProgress {
  /** The first rejected rows with their reasons. */
  rejectedRows: RejectedRow[];
  seconds: number;
}

type Row = { row: number; profile: ImportedProfile } | { row: number; reason: string };

/**
 * The file's rows, each a profile or the reason it is refused; throws an InputError for a file that cannot be read
 * as CSV, or that lacks the key column.
 */
async function* profileRows(file: string, key?: string): AsyncGenerator<Row, void, undefined> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = new Transform({
    readableObjectMode: false,
    transform(chunk: Buffer, _encoding, done) {
      try {
        done(null, decoder.decode(chunk, { stream: true }));
      } catch {
        done(new InputError(`${file}: ${NOT_UTF8}. Nothing was imported.`, 'INVALID_CSV'));
      }
    },
  });
  const parser = parse(CSV_OPTIONS);
  let input: fs.ReadStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    input = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  } catch (e) {
    throw new InputError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'FILE');
  }
  const flowing = pipeline(input, decode, parser).catch(() => undefined); // the error reaches the loop below through the parser
  let columns: CsvColumn[] | undefined;
  let index = 0;
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      index++;
      if (!columns) {
        const header = csvColumns(cells);
        if (!header.ok) throw new InputError(`${file}: ${header.error}. Nothing was imported.`, 'INVALID_CSV');
        const problem = key === undefined ? undefined : keyColumnProblem(header.columns, key);
        if (problem) throw new InputError(`${file}: ${problem}. Nothing was imported.`, 'INVALID_CSV');
        columns = header.columns;
        continue;
      }
      const result = csvProfile(columns, cells);
      const reason = typeof result === 'string' ? result : key === undefined ? undefined : keyValueProblem(result, key);
      yield reason === undefined ? { row: index, profile: result as ImportedProfile } : { row: index, reason };
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: the file is not valid CSV: ${(e as Error).message}. Nothing was imported.`, 'INVALID_CSV');
  } finally {
    input.destroy();
    await flowing;
  }
  if (!columns) throw new InputError(`${file}: ${EMPTY_FILE}. Nothing was imported.`, 'INVALID_CSV');
}

/** The columns a file's header names (its first record, read on its own); none when it does not parse. */
async function headerColumns(file: string): Promise<CsvColumn[]> {
  const parser = parse({ ...CSV_OPTIONS, to_line: 1 });
  const flowing = pipeline(fs.createReadStream(file, { end: 64 * 1024 }), parser).catch(() => undefined);
  let header: string[] = [];
  for await (const cells of parser as AsyncIterable<string[]>) {
    header = cells;
    break;
  }
  await flowing;
  const parsed = csvColumns(header);
  return parsed.ok ? parsed.columns : [];
}

/** Every rejected row of a file (the first REJECTED_SHOWN with reasons) and how many rows it has. */
export async function checkProfileFile(file: string, key?: string): Promise<{ rows: number; rejected: number; rejectedRows: RejectedRow[] }> {
  let rows = 0;
  let rejected = 0;
  const rejectedRows: RejectedRow[] = [];
  for await (const r of profileRows(file, key)) {
    rows++;
    if ('reason' in r) {
      rejected++;
      if (rejectedRows.length < REJECTED_SHOWN) rejectedRows.push({ row: r.row, reason: r.reason });
    }
  }
  return { rows, rejected, rejectedRows };
}

export interface ImportOptions {
  mode: ImportMode;
  listId?: number;
  /** Match rows to profiles by this attribute (domain/profile-csv.ts parseImportKey) instead of by address. */
  key?: string;
  /** The key of erased addresses' hashes (ERASURE_SECRET, temporal/config.ts erasureSecret). */
  erasureSecret: string;
  /** Rows per transaction (default 1000). */
  batchSize?: number;
  onProgress?: (progress: ImportProgress) => void;
}

/** Streams the file into the profiles, batch by batch (the rows refused are counted and listed, not written). */
export async function importProfileFile(db: Database, file: string, options: ImportOptions): Promise<ImportReport> {
  const started = Date.now();
  const header = await headerColumns(file);
  const columns = new Set<ProfileColumnName>(header.flatMap((c) => ('field' in c ? [c.field] : [])));
  const { key } = options;
  // A header without the key fails in profileRows below, before anything is written.
  if (key !== undefined && header.length && !keyColumnProblem(header, key)) await ensureKeyIndex(db, key);
  const size = options.batchSize ?? 1000;
  const report: ImportReport = { rows: 0, inserted: 0, updated: 0, skipped: 0, rejected: 0, rowsPerSecond: 0, rejectedRows: [], seconds: 0 };
  let batch: ImportedProfile[] = [];
  let batches = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await writeProfileBatch(db, batch, { mode: options.mode, columns, listId: options.listId, key, erasureSecret: options.erasureSecret });
    report.inserted += result.inserted;
    report.updated += result.updated;
    // Rows of an address (or key) met twice in one batch count once (the last one wins).
    report.skipped += result.skipped + (batch.length - result.inserted - result.updated - result.skipped);
    batch = [];
    if (++batches % BATCHES_PER_COLLECTION === 0) collectGarbage();
    report.seconds = (Date.now() - started) / 1000;
    report.rowsPerSecond = Math.round(report.rows / Math.max(report.seconds, 0.001));
    options.onProgress?.(report);
  };
  for await (const r of profileRows(file, key)) {
    report.rows++;
    if ('reason' in r) {
      report.rejected++;
      if (report.rejectedRows.length < REJECTED_SHOWN) report.rejectedRows.push({ row: r.row, reason: r.reason });
    } else {
      batch.push(r.profile);
      if (batch.length >= size) await flush();
    }
  }
  await flush();
  report.seconds = (Date.now() - started) / 1000;
  report.rowsPerSecond = Math.round(report.rows / Math.max(report.seconds, 0.001));
  return report;
}
