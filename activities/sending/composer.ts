// One recipient's message, built from what the preparation captured.
import { parseSender, type DeliverySpec } from '../../domain/spec';
import { deliveryMessages, type TrackingSetup } from '../../domain/message';
import { mimeSkeleton } from '../../domain/mime';
import { verpAddress } from '../../domain/bounce-references';
import type { ClaimedMessage } from '../../store/sending-logs';
import type { OutgoingMessage } from '../mailer';

export function composer(deliveryId: string, spec: DeliverySpec, tracking: TrackingSetup, bounceDomain?: string) {
  const messages = deliveryMessages(deliveryId, spec, tracking);
  const mime = mimeSkeleton(spec.from, deliveryId);
  const sender = parseSender(spec.from).address;
  return (row: ClaimedMessage): OutgoingMessage => ({
    envelopeFrom: bounceDomain ? verpAddress(tracking.secret, row.id, bounceDomain) : sender,
    to: row.email,
    raw: mime({ to: row.email, ...messages.compose(row.id, JSON.parse(row.personalization) as Record<string, unknown>) }),
  });
}
