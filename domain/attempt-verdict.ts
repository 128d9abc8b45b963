// How a sending attempt ends, decided in one place from what stopped it. First match wins: a failed recording
// must be retried before anything else is believed; a lost lease means the totals are another attempt's; a halt
// (relay fault only ops can fix, or the guard) ends the attempt normally, with its cause in the result.

export interface AttemptEnding {
  /** The database could not record what was sent (its message). */
  recordingFailure?: string;
  /** Another attempt took the rows over (why). */
  leaseLostBecause?: string;
  /** The delivery must pause: the result carries the cause. */
  halted: boolean;
  /** A temporary relay fault (its cause). */
  relayUnavailable?: string;
  /** DKIM signing failed (its message): the messages it held were given back unsent. */
  signingFailure?: string;
  /** The attempt was cancelled: by the workflow (pause, stop) or by the worker shutting down. */
  cancelledBy?: 'workflow' | 'worker shutdown';
}

export type AttemptVerdict =
  | { end: 'finished' }
  /** Failed, and retried by Temporal (with backoff) on a live worker: the released rows go with the next attempt. */
  | { end: 'retry'; type: 'DatabaseUnavailable' | 'LeaseLost' | 'SmtpUnavailable' | 'DkimSigningFailed' | 'WorkerShutdown'; message: string }
  /** The workflow paused or stopped the delivery. */
  | { end: 'cancelled' };

export function attemptVerdict(a: AttemptEnding): AttemptVerdict {
  if (a.recordingFailure !== undefined) {
    // Rows still claimed are re-queued, as possible duplicates, by the attempt Temporal starts next.
    return { end: 'retry', type: 'DatabaseUnavailable', message: `the database could not record what was sent (${a.recordingFailure.slice(0, 300)}); nothing more was handed out: the next attempt continues` };
  }
  if (a.leaseLostBecause) return { end: 'retry', type: 'LeaseLost', message: `sending attempt given up: ${a.leaseLostBecause}; its rows belong to the attempt that took over` };
  if (a.halted) return { end: 'finished' };
  if (a.relayUnavailable) return { end: 'retry', type: 'SmtpUnavailable', message: `SMTP relay unavailable: ${a.relayUnavailable}` };
  if (a.signingFailure) return { end: 'retry', type: 'DkimSigningFailed', message: `${a.signingFailure}; the messages were given back unsent (never sent unsigned): the next attempt signs them` };
  // A shutdown is not a pause or a stop: the attempt fails and is retried on a live worker, instead of being cancelled.
  if (a.cancelledBy === 'worker shutdown') return { end: 'retry', type: 'WorkerShutdown', message: 'the worker is shutting down: messages in flight were recorded, the others given back' };
  if (a.cancelledBy === 'workflow') return { end: 'cancelled' };
  return { end: 'finished' };
}
