// One recipient's message, built from what the preparation captured, in the content of its A/B test variant if any.
import { parseSender, type DeliverySpec } from '../../domain/spec';
import { deliveryMessages, type MessageContent, type TrackingSetup } from '../../domain/message';
import { mimeSkeleton } from '../../domain/mime';
import { verpAddress } from '../../domain/bounce-references';
import { messageContents } from '../../domain/sending-plan';
import type { ClaimedMessage } from '../../store/sending-logs';
import type { OutgoingMessage } from '../mailer';

export function composer(deliveryId: string, spec: DeliverySpec, tracking: TrackingSetup, bounceDomain?: string) {
  const build = (content: MessageContent) => ({
    messages: deliveryMessages(deliveryId, content, tracking),
    mime: mimeSkeleton(content.from, deliveryId),
    sender: parseSender(content.from).address,
  });
  const built = new Map(messageContents(spec).map(({ variant, content }) => [variant, build(content)]));
  return (row: ClaimedMessage): OutgoingMessage => {
    const content = built.get(spec.variants ? row.variant ?? '' : undefined);
    // Claims of a test take the test population alone, and the rest only once it has the winner.
    if (!content) throw new Error(`message ${row.id} has no variant of the A/B test (${row.variant ?? 'none'}): it is not sent`);
    return {
      envelopeFrom: bounceDomain ? verpAddress(tracking.secret, row.id, bounceDomain) : content.sender,
      to: row.email,
      raw: content.mime({ to: row.email, ...content.messages.compose(row.id, JSON.parse(row.personalization) as Record<string, unknown>) }),
    };
  };
}
