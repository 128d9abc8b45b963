// Progress reports to a delivery's workflow (the `progress` signal), as the worker, the bounce listener and the
// tracking server send them: each call tracked, so that the owner of the client can wait for them before closing
// its connection (a call in gRPC retry whose channel was closed throws from a timer, an uncaught error).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ProgressReport } from '../domain/lifecycle';
import { progressSignal } from '../workflows/messages';
import { callsInFlight } from './calls-in-flight';

export interface ProgressSignals {
  /** Sends one report now (a sending or preparing activity's totals). */
  send(deliveryId: string, report: ProgressReport): Promise<void>;
  /**
   * Sends a delivery's report at most once per `everyMs`, read when the signal goes (totals from the database, so the
   * latest wins). One that fails while Temporal is away is sent again later, backing off to a minute, until it lands
   * or the workflow has ended (whose feedback stays in the database).
   */
  soon(deliveryId: string, read: () => Promise<ProgressReport>): void;
  /** Stops what is due and waits for the calls under way. */
  close(): Promise<void>;
}

export function progressSignals(client: Client | undefined, everyMs = 10_000): ProgressSignals {
  const calls = callsInFlight();
  const due = new Map<string, NodeJS.Timeout>();
  let closed = false;

  function soon(deliveryId: string, read: () => Promise<ProgressReport>, delayMs = everyMs): void {
    if (!client || closed || due.has(deliveryId)) return;
    due.set(deliveryId, setTimeout(() => {
      due.delete(deliveryId);
      void calls.track((async () => {
        await client.workflow.getHandle(deliveryId).signal(progressSignal, await read());
      })().catch((e) => {
        if (!(e instanceof WorkflowNotFoundError)) soon(deliveryId, read, Math.min(2 * delayMs, 60_000));
      }));
    }, delayMs));
  }

  return {
    send: (deliveryId, report) => (client ? calls.track(client.workflow.getHandle(deliveryId).signal(progressSignal, report)) : Promise.resolve()),
    soon: (deliveryId, read) => soon(deliveryId, read),
    async close() {
      closed = true;
      for (const t of due.values()) clearTimeout(t);
      due.clear();
      await calls.settled();
    },
  };
}
