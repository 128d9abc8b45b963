// A sender domain's spam complaints across its deliveries: what mailbox providers judge the domain by (Gmail's
// Postmaster Tools rate is per domain, over a day). Read by the sending attempt's complaint breaker for its domain.
import { domainOf } from '../domain/address';
import { parseSender } from '../domain/spec';
import type { Database } from './prisma';

/** Deliveries older than this are not looked at (a delivery sends for its validity period at most). */
const DELIVERIES_WITHIN_MS = 30 * 24 * 3600_000;

export interface SenderComplaints {
  complaints: number;
  delivered: number;
  /** The domain's deliveries that sent in the window. */
  deliveries: number;
}

/**
 * A reader for one sending attempt: each delivery's sender domain is read from its spec once (specs hold whole
 * templates), then only the ids of the deliveries that sent lately are read at each look.
 */
export function senderComplaints(db: Database) {
  const domainOfDelivery = new Map<string, string | undefined>();
  return async function senderDomainComplaints(senderDomain: string, since: Date): Promise<SenderComplaints> {
    const recent = await db.delivery.findMany({
      where: { sendingStartedAt: { not: null }, createdAt: { gte: new Date(since.getTime() - DELIVERIES_WITHIN_MS) } }, select: { id: true },
    });
    const unknown = recent.map((d) => d.id).filter((id) => !domainOfDelivery.has(id));
    if (unknown.length > 0) {
      for (const d of await db.delivery.findMany({ where: { id: { in: unknown } }, select: { id: true, spec: true } })) domainOfDelivery.set(d.id, domainOfSpec(d.spec));
    }
    const ids = recent.map((d) => d.id).filter((id) => domainOfDelivery.get(id) === senderDomain);
    if (ids.length === 0) return { complaints: 0, delivered: 0, deliveries: 0 };
    const sentSince = { deliveryId: { in: ids }, sentAt: { gte: since } };
    const [complaints, delivered, sending] = await Promise.all([
      db.sendingLog.count({ where: { ...sentSince, complainedAt: { not: null } } }),
      db.sendingLog.count({ where: { ...sentSince, status: 'sent' } }),
      db.sendingLog.groupBy({ by: ['deliveryId'], where: sentSince }),
    ]);
    return { complaints, delivered, deliveries: sending.length };
  };
}

function domainOfSpec(spec: string): string | undefined {
  try {
    return domainOf(parseSender((JSON.parse(spec) as { from: string }).from).address);
  } catch {
    return undefined; // a spec of an older shape: not this domain's
  }
}
