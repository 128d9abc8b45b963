// Proofs: the delivery sent to its proof list before the real send, subject prefixed "Proof #N".
// Proof addresses keep duplicates, opted-out and quarantined addresses (a proof goes to the team);
// they are logged apart from the sending logs.
import { parseSender } from '../domain/spec';
import { messageContents } from '../domain/sending-plan';
import { domainOf } from '../domain/address';
import { personalizationOf } from '../domain/template';
import { listHeaders, proofTemplates } from '../domain/message';
import { mimeSkeleton } from '../domain/mime';
import { toProfileRecord } from '../store/profiles';
import type { ActivityDeps } from './deps';
import { retryTransient } from '../store/transient';
import { loadPreparedDelivery } from '../store/deliveries';
import { describeRelayFault } from '../domain/smtp-faults';
import { dkimSigner } from './sending/dkim';
import { senderKeys } from './sending/sender-keys';

export interface ProofInput {
  deliveryId: string;
  number: number;
}

export function proofActivity(deps: ActivityDeps) {
  return async function sendProof({ deliveryId, number }: ProofInput): Promise<{ sent: number; failed: number }> {
    const { db, mailer } = deps;
    const { spec } = await loadPreparedDelivery(db, deliveryId);
    // With an A/B test, every variant: the team sees each message the target may get.
    const contents = messageContents(spec);
    // Idempotent on retry: messages of this proof already logged are not sent again.
    const done = new Set((await db.proofLog.findMany({ where: { deliveryId, number }, select: { email: true, variant: true } })).map((r) => `${r.variant ?? ''}|${r.email}`));
    let sent = 0;
    let failed = 0;
    for (const { variant, content } of contents) {
      const templates = proofTemplates(content, deps.tracking);
      const sender = parseSender(content.from).address;
      const senderDomain = domainOf(sender);
      const mime = mimeSkeleton(content.from, `${deliveryId}.proof${number}`);
      // Signed and headed like the real thing: a proof shows what receivers will score. Few messages: signed here.
      const sign = dkimSigner(deps.dkim ? await senderKeys(db, deps.dkim.secret, content) : []);
      const label = variant === undefined ? `Proof #${number}` : `Proof #${number} (variant ${variant})`;
      for (const [i, email] of (spec.proof?.to ?? []).entries()) {
        if (done.has(`${variant ?? ''}|${email}`)) continue;
        // A proof shows a real recipient's personalization when the address belongs to a profile.
        const profile = await db.profile.findFirst({ where: { email } });
        const data = profile ? personalizationOf(toProfileRecord(profile), templates.fields) : {};
        const rendered = templates.render(data);
        const result = await mailer.send({
          envelopeFrom: sender, to: email,
          raw: await sign(mime({
            to: email, ...rendered, subject: `${label}: ${rendered.subject}`,
            messageId: `<${deliveryId}.proof${number}${variant === undefined ? '' : `.${variant}`}.${i}@${senderDomain}>`,
            headers: { ...listHeaders(deliveryId, content, senderDomain), 'X-Delivery-Id': deliveryId, 'X-Delivery-Proof': String(number) },
          })),
        });
        const ok = result.status === 'sent';
        await retryTransient(() => db.proofLog.create({
          data: { deliveryId, number, email, variant: variant ?? null, status: ok ? 'sent' : 'failed', reason: ok ? null : result.status === 'unsent' ? (result.fault ? describeRelayFault(result.fault) : 'not sent') : result.status === 'throttled' ? result.reply : result.failure.reason },
        }));
        if (ok) sent++;
        else failed++;
      }
    }
    return { sent, failed };
  };
}
