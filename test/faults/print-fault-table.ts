import fs from 'node:fs';
import path from 'node:path';
import { FAULT_ROWS, type FaultRow } from './fault-table';
import { ROOT, TEST_POSTGRES_URL } from '../helpers/paths';

export default async function printFaultTable(): Promise<void> {
  if (!fs.existsSync(FAULT_ROWS)) return;
  const rows = fs.readFileSync(FAULT_ROWS, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FaultRow);
  const header = '| fault | database | injected | recipients | received | lost | duplicates | counted as possible duplicates | failed wrongly | quarantined wrongly | sent despite an opt-out |\n' +
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => `| ${r.fault} | ${r.database} | ${r.injected} | ${r.recipients} | ${r.received} | ${r.lost} | ${r.duplicates} | ${r.counted} | ${r.failedWrongly} | ${r.quarantinedWrongly} | ${r.sentDespiteOptOut} |`);
  const table = [header, ...lines].join('\n');
  console.log(`\nFaults injected and messages lost/duplicated:\n\n${table}\n`);
  const out = path.join(ROOT, 'test-artifacts');
  fs.mkdirSync(out, { recursive: true });
  // One file per database: CI runs the suite on SQLite, then its database faults on Postgres.
  fs.writeFileSync(path.join(out, `fault-table${TEST_POSTGRES_URL ? '.postgres' : ''}.md`), `${table}\n`);
}
