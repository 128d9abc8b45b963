// The bounce listener: an SMTP server receiving delivery status notifications (RFC 3464). Each DSN
// is mapped back to its message (VERP return path or original Message-ID), qualified, and applied to
// the sending log, the quarantine and the delivery's KPIs.
import type { Client } from '@temporalio/client';
import { parseDeliveryStatus, qualifyBounce, reportParts, sendingLogIdOf } from '../domain/dsn';
import type { Database } from '../store/prisma';
import { quarantine } from '../store/quarantine';
import { retryTransient } from '../store/transient';
import { sendingLogs } from '../store/sending-logs';
import { startSmtpServer, type RunningSmtpServer } from '../stack/smtp-capture';
import { progressSignal } from '../workflows/messages';
import { callsInFlight } from '../client/calls-in-flight';

export interface BounceOutcome {
  sendingLogId?: number;
  kind: 'hard' | 'soft' | 'none' | 'unknown message';
}

export interface BounceListener extends RunningSmtpServer {
  /** Applies one raw DSN (also what the SMTP server does for each message it receives). */
  handle(raw: Buffer, envelopeTo: string[]): Promise<BounceOutcome[]>;
}

export async function startBounceListener(options: {
  db: Database; client: Client; port: number; host?: string; softErrorsBeforeQuarantine: number;
}): Promise<BounceListener> {
  const { db, client } = options;
  const logs = sendingLogs(db);
  const addresses = quarantine(db);

  // KPIs reach the workflow at most twice a second per delivery, however many DSNs arrive.
  const due = new Map<string, NodeJS.Timeout>();
  const signalling = callsInFlight(); // close() waits for them
  function feedbackSoon(deliveryId: string) {
    if (due.has(deliveryId)) return;
    due.set(deliveryId, setTimeout(() => {
      due.delete(deliveryId);
      void signalling.track(logs.sendingCounts(deliveryId)
        .then((totals) => client.workflow.getHandle(deliveryId).signal(progressSignal, { phase: 'feedback', ...totals }))
        .catch(() => undefined)); // a delivery that ended keeps its bounces in the database
    }, 500));
  }

  async function handle(raw: Buffer, envelopeTo: string[]): Promise<BounceOutcome[]> {
    const { deliveryStatus, original = '' } = reportParts(raw.toString('utf8'));
    if (!deliveryStatus) return [{ kind: 'none' }];
    const originalMessageId = /^Message-ID:\s*(<[^>]+>)/im.exec(original)?.[1];
    const outcomes: BounceOutcome[] = [];
    for (const recipient of parseDeliveryStatus(deliveryStatus)) {
      const id = sendingLogIdOf({ envelopeTo, originalMessageId });
      const row = id === undefined ? null : await db.sendingLog.findUnique({ where: { id } });
      // The recipient must match too: a DSN cannot fail an arbitrary message by guessing ids.
      if (!row || row.email.toLowerCase() !== recipient.finalRecipient.toLowerCase() || row.sentAt === null) {
        outcomes.push({ kind: 'unknown message' });
        continue;
      }
      const { kind, failure } = qualifyBounce(recipient);
      if (failure) await addresses.recordFailures([{ address: row.email, failure, deliveryId: row.deliveryId }], options.softErrorsBeforeQuarantine);
      if (kind === 'hard' && failure && row.status === 'sent') {
        await retryTransient(() => db.sendingLog.update({ where: { id: row.id }, data: { status: 'failed', failureType: 'hard', reason: failure.reason, bouncedAt: new Date() } }));
        feedbackSoon(row.deliveryId);
      }
      outcomes.push({ sendingLogId: row.id, kind });
    }
    return outcomes;
  }

  const server = await startSmtpServer({
    port: options.port,
    host: options.host,
    onMessage: async ({ raw, envelope }) => {
      await handle(raw, envelope.to);
    },
  });
  return {
    ...server,
    handle,
    async close() {
      for (const t of due.values()) clearTimeout(t);
      await signalling.settled();
      await server.close();
    },
  };
}
