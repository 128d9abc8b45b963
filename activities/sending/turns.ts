// Domain caps inside one attempt: which claimed message may go now, and when the held-back ones get their turn.
import { domainOf } from '../../domain/address';
import type { ClaimedMessage } from '../../store/sending-logs';
import type { DomainGate } from '../domain-gate';

/** Takes out of the queue the first message whose domain is under its caps (counted as in flight). */
export function nextAllowed(gate: DomainGate, queue: ClaimedMessage[]): ClaimedMessage | undefined {
  for (let i = 0; i < queue.length; i++) {
    if (gate.tryAcquire(domainOf(queue[i].email))) return queue.splice(i, 1)[0];
  }
  return undefined;
}

/** Each held-back row gets the time of its turn: the domain's next slot, then one interval apart. */
export function turnsOf(gate: DomainGate, rows: ClaimedMessage[], now = Date.now()): Array<{ id: number; until: Date }> {
  const position = new Map<string, number>();
  return rows.map((row) => {
    const domain = domainOf(row.email);
    const k = position.get(domain) ?? 0;
    position.set(domain, k + 1);
    const wait = gate.waitMs(domain);
    const first = Number.isFinite(wait) ? wait : 250; // waiting for a connection slot: look again shortly
    return { id: row.id, until: new Date(now + first + k * gate.intervalMs(domain)) };
  });
}
