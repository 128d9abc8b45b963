// Each fault test adds a row; the suite's teardown prints them as one table.
import fs from 'node:fs';
import path from 'node:path';
import type { TestStack } from '../helpers/stack';
import { TEST_DATA, TEST_POSTGRES_URL } from '../helpers/paths';

export const FAULT_ROWS = path.join(TEST_DATA, 'fault-table.jsonl');

export interface FaultRow {
  fault: string;
  database: 'SQLite' | 'Postgres';
  injected: number;
  recipients: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Messages the engine itself reports as possibly sent twice (kpis.possibleDuplicates). */
  counted: number;
  /** Recipients failed although the test's relay had nothing against them (a relay fault charged to them). */
  failedWrongly: number;
  /** Their addresses quarantined. */
  quarantinedWrongly: number;
  /** Messages received by an address more than the claim-time check after it opted out (every opt-out must hold). */
  sentDespiteOptOut: number;
}

/** A message may leave this long after an opt-out: its batch was claimed, and checked, just before. */
const OPT_OUT_RACE_MS = 5_000;

/**
 * Accounts for every recipient of a delivery: one sending log each, and what the SMTP server received.
 * Lost = a recipient recorded as sent (or still to send) that the server never received. `refused` names the
 * addresses the test's relay really refused: any other failure or quarantine is wrong.
 */
export async function account(stack: TestStack, deliveryId: string, fault: string, injected: number, refused: (email: string) => boolean = () => false): Promise<FaultRow> {
  const rows = await stack.db.sendingLog.findMany({ where: { deliveryId, status: { not: 'ignored' } }, select: { email: true, status: true, possibleDuplicate: true } });
  const quarantined = await stack.db.quarantine.findMany({ where: { status: 'quarantined' }, select: { address: true } });
  const optedOut = new Map((await stack.db.optOut.findMany()).map((o) => [o.address, o.optedOutAt.getTime()]));
  const deliveredTo = new Set(rows.map((r) => r.email));
  const received = stack.sink.countByRecipient();
  const sent = rows.filter((r) => r.status === 'sent');
  const ours = new Set(rows.map((r) => r.email.toLowerCase()));
  const row: FaultRow = {
    fault,
    database: TEST_POSTGRES_URL ? 'Postgres' : 'SQLite',
    injected,
    recipients: rows.length,
    received: [...received.keys()].filter((to) => rows.some((r) => r.email === to)).length,
    lost: sent.filter((r) => !received.has(r.email)).length + rows.filter((r) => r.status === 'pending' || r.status === 'sending').length,
    duplicates: rows.reduce((sum, r) => sum + Math.max(0, (received.get(r.email) ?? 0) - 1), 0),
    counted: rows.filter((r) => r.possibleDuplicate).length,
    failedWrongly: rows.filter((r) => r.status === 'failed' && !refused(r.email)).length,
    quarantinedWrongly: quarantined.filter((q) => ours.has(q.address) && !refused(q.address)).length,
    sentDespiteOptOut: stack.sink.messages.filter((m) => deliveredTo.has(m.to) && m.receivedAt > (optedOut.get(m.to.toLowerCase()) ?? Infinity) + OPT_OUT_RACE_MS).length,
  };
  fs.appendFileSync(FAULT_ROWS, `${JSON.stringify(row)}\n`);
  return row;
}
