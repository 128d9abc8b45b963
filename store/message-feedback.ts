// What the outside world tells us about a message we sent, applied to its sending log: a bounce (DSN, ESP event),
// a spam complaint (ARF report, ESP event), an unsubscription through the provider. Shared by the bounce listener
// and the tracking server's ESP webhooks, so that both count the same way. Every change is conditional on not having
// been made yet: a report or event that arrives twice (providers retry) counts once.
import type { Bounce } from '../domain/dsn';
import type { Database } from './prisma';
import { optOuts, type OptOutSource } from './opt-outs';
import { quarantine } from './quarantine';
import { retryTransient } from './transient';

type SendingLogRow = NonNullable<Awaited<ReturnType<Database['sendingLog']['findUnique']>>>;

/** What became of one piece of feedback: applied, already counted, or nothing to apply (and why). */
export type NotApplied = { applied: false; why: 'already counted' | 'never sent' | 'unknown message' | 'being recorded' | 'nothing to apply' };
export type FeedbackOutcome = { applied: true; deliveryId: string } | NotApplied;

const NOT = (why: NotApplied['why']): NotApplied => ({ applied: false, why });

export function messageFeedback(db: Database, options: { softErrorsBeforeQuarantine: number }) {
  const addresses = quarantine(db);
  const optedOut = optOuts(db);

  /** The message, once its outcome is recorded (a report may arrive before the worker has written its 250). */
  async function sentMessage(id: number): Promise<SendingLogRow | NotApplied> {
    const row = await retryTransient(() => db.sendingLog.findUnique({ where: { id } }));
    if (!row) return NOT('unknown message');
    if (row.status === 'sending') return NOT('being recorded');
    if (row.sentAt === null) return NOT('never sent');
    return row;
  }
  const isOutcome = (r: SendingLogRow | NotApplied): r is NotApplied => 'applied' in r;

  return {
    sentMessage,

    /**
     * A spam complaint: the address is opted out (before the message is marked, so that a failure in between is
     * retried whole) and the message counts once in the Complaints KPI.
     */
    async complaint(id: number): Promise<FeedbackOutcome> {
      const row = await sentMessage(id);
      if (isOutcome(row)) return row;
      await retryTransient(() => optedOut.add([row.email], 'complaint', row.deliveryId));
      const { count } = await retryTransient(() => db.sendingLog.updateMany({ where: { id, complainedAt: null }, data: { complainedAt: new Date() } }));
      return count === 0 ? NOT('already counted') : { applied: true, deliveryId: row.deliveryId };
    },

    /** An unsubscription the provider received (its own link or list-unsubscribe handling). */
    async unsubscribe(id: number, source: OptOutSource): Promise<FeedbackOutcome> {
      const row = await sentMessage(id);
      if (isOutcome(row)) return row;
      const added = await retryTransient(() => optedOut.add([row.email], source, row.deliveryId));
      return added === 0 ? NOT('already counted') : { applied: true, deliveryId: row.deliveryId };
    },

    /**
     * A bounce qualified by the reply table (domain/dsn.ts): a hard one fails the message, a soft one marks it
     * delayed; only the recipient's own problem counts against the address (quarantine).
     */
    async bounce(row: SendingLogRow, bounce: Bounce): Promise<FeedbackOutcome> {
      const { kind, failure, party } = bounce;
      if (kind === 'none' || !failure) return NOT('nothing to apply');
      const id = row.id;
      const at = new Date();
      // A refusal for the sender (SPF, DKIM, DMARC, reputation) fails the message, never the address.
      const forSender = party === 'sender' ? { senderRefusedAt: at } : {};
      const { count } = await retryTransient(() => (kind === 'hard'
        ? db.sendingLog.updateMany({ where: { id, status: 'sent', bouncedAt: null }, data: { status: 'failed', failureType: failure.type, reason: failure.reason, bouncedAt: at, ...forSender } })
        : db.sendingLog.updateMany({ where: { id, delayedAt: null, bouncedAt: null }, data: { delayedAt: at } })));
      if (count === 0) return NOT('already counted');
      if (party === 'recipient') await addresses.recordFailures([{ address: row.email, failure, deliveryId: row.deliveryId }], options.softErrorsBeforeQuarantine);
      return { applied: true, deliveryId: row.deliveryId };
    },
  };
}

export type MessageFeedback = ReturnType<typeof messageFeedback>;
