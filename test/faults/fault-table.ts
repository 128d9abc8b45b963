// Each fault test adds a row; the suite's teardown prints them as one table.
import fs from 'node:fs';
import path from 'node:path';
import type { TestStack } from '../helpers/stack';
import { TEST_DATA } from '../helpers/paths';

export const FAULT_ROWS = path.join(TEST_DATA, 'fault-table.jsonl');

export interface FaultRow {
  fault: string;
  injected: number;
  recipients: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Messages the engine itself reports as possibly sent twice (in flight at a crash). */
  counted: number;
}

/**
 * Accounts for every recipient of a delivery: one sending log each, and what the SMTP server received.
 * Lost = a recipient recorded as sent (or still to send) that the server never received.
 */
export async function account(stack: TestStack, deliveryId: string, fault: string, injected: number): Promise<FaultRow> {
  const rows = await stack.db.sendingLog.findMany({ where: { deliveryId, status: { not: 'ignored' } }, select: { email: true, status: true, resentAfterCrash: true } });
  const received = stack.sink.countByRecipient();
  const sent = rows.filter((r) => r.status === 'sent');
  const row: FaultRow = {
    fault,
    injected,
    recipients: rows.length,
    received: [...received.keys()].filter((to) => rows.some((r) => r.email === to)).length,
    lost: sent.filter((r) => !received.has(r.email)).length + rows.filter((r) => r.status === 'pending' || r.status === 'sending').length,
    duplicates: rows.reduce((sum, r) => sum + Math.max(0, (received.get(r.email) ?? 0) - 1), 0),
    counted: rows.filter((r) => r.resentAfterCrash).length,
  };
  fs.appendFileSync(FAULT_ROWS, `${JSON.stringify(row)}\n`);
  return row;
}
