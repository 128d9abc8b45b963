// The complaint-rate breaker: when recipients report a delivery as spam faster than mailbox providers tolerate
// (Gmail and Yahoo act from 0.3% of delivered mail), the delivery pauses itself before the sender's reputation
// pays for the rest of the audience. Sound on small samples like the failure guard: it trips when the Wilson
// lower bound of the complaint rate (z = 3) is above the limit, so 1 complaint in the first 100 messages does not
// stop a delivery, 5 do.
import { percent } from './delivery';
import { wilsonLowerBound } from './failure-guard';

export const DEFAULT_MAX_COMPLAINT_RATE = 0.003;
const Z = 3;

export interface ComplaintTrip {
  complaints: number;
  delivered: number;
  limit: number;
}

export function complaintTrip(complaints: number, delivered: number, maxComplaintRate: number): ComplaintTrip | undefined {
  if (complaints === 0 || delivered === 0) return undefined;
  return wilsonLowerBound(complaints, Math.max(delivered, complaints), Z) > maxComplaintRate ? { complaints, delivered, limit: maxComplaintRate } : undefined;
}

/** "spam complaints reached 2.0% of delivered (2 of 100), above the limit of 0.3%: …" */
export function describeComplaintTrip(t: ComplaintTrip): string {
  return `spam complaints reached ${percent(t.complaints, t.delivered)} of delivered (${t.complaints} of ${t.delivered}), above the limit of ${+(t.limit * 100).toFixed(3)}%: ` +
    'mailbox providers junk or refuse a sender from 0.3%; check where the list came from, the content and the frequency ' +
    '(delivery logs <id> --recipients), then resume or stop the delivery';
}

/** How far back a sender domain's complaints count (the providers' daily rate), unless ops accepted them later. */
export const SENDER_WINDOW_MS = 24 * 3600_000;

/** "spam complaints on shop.example reached 2.0% of its delivered mail of the last 24 h (…)" */
export function describeSenderTrip(domain: string, t: ComplaintTrip, deliveries: number): string {
  return `spam complaints on ${domain} reached ${percent(t.complaints, t.delivered)} of its delivered mail of the last 24 h ` +
    `(${t.complaints} of ${t.delivered}, over ${deliveries} ${deliveries === 1 ? 'delivery' : 'deliveries'}), above the limit of ${+(t.limit * 100).toFixed(3)}%: mailbox providers judge the sender domain as a whole; ` +
    'find the delivery that draws them (delivery list, then its KPIs), then resume or stop this one';
}
