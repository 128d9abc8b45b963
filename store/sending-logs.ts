// Queries on the sending logs (one row per targeted recipient), kept together by phase: the preparation's
// (sending-log-preparation.ts), the send attempts' fenced writes (sending-log-claims.ts, where the fencing rule is
// stated) and the counts read back (sending-log-counts.ts). Every call goes through transient database errors.
import type { Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';
import type { ExclusionCause } from '../domain/delivery';
import { preparationQueries } from './sending-log-preparation';
import { sendingClaims } from './sending-log-claims';
import { sendingCounts } from './sending-log-counts';

export type SendingStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'ignored' | 'cancelled';

export interface NewSendingLog {
  deliveryId: string;
  profileId: number;
  email: string;
  status: 'pending' | 'ignored';
  exclusionCause?: ExclusionCause;
  personalization: string;
}

export interface ClaimedMessage {
  id: number;
  email: string;
  personalization: string;
  sendAttempts: number;
  softFailures: number;
  /** The A/B test variant it goes out with (null without a test). */
  variant: string | null;
}

/** Which sender claims rows: `<round>/<lane>/<attempt>/…` (see requeueInFlight). */
export interface SenderIdentity {
  round: string;
  lane: number;
  attempt: number;
}

export type MessageOutcome =
  /** Its Message-ID is derived from the sending log id (domain/bounce-references.ts): not stored. */
  | { id: number; email: string; status: 'sent'; /** When the relay answered 250. */ acceptedAt?: Date }
  | { id: number; email: string; status: 'failed'; failureType: 'hard' | 'soft' | 'ignored'; reason: string; possibleDuplicate?: boolean; senderRefused?: boolean }
  /** A soft failure inside the validity period: back to pending until retryAt (type ignored: refused for the sender). */
  | { id: number; email: string; status: 'retry'; retryAt: Date; reason: string; failureType?: 'soft' | 'ignored'; possibleDuplicate?: boolean; senderRefused?: boolean };

/** What a fenced recording changed. */
export interface Recorded {
  /** Rows the attempt still owned: their outcome is recorded. */
  applied: Set<number>;
  /** Rows another attempt took over: nothing was written to them. */
  lost: number[];
}

export function preparationLogs(db: Database, retry?: TransientRetry) {
  return transientTolerant({ ...preparationQueries(db), ...sendingCounts(db) }, retry);
}

export function sendingLogs(db: Database, retry?: TransientRetry) {
  return transientTolerant({ ...sendingClaims(db), ...sendingCounts(db) }, retry);
}

