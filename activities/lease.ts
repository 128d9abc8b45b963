// Whether a sending attempt still owns its rows. It does not once the server gave it up — a missed heartbeat
// the server reports back, or the worker stood still longer than the heartbeat timeout (SIGSTOP, a VM pause),
// after which another attempt may already be sending — or once its writes find rows taken over. From then on
// it must not hand out one more message; its writes are fenced anyway (store/sending-logs.ts).
import type { Context } from '@temporalio/activity';

export interface AttemptLease {
  /** Why the attempt lost its lease, once it did. */
  readonly lostBecause: string | undefined;
  /** Looks at the clock too (a stall loses the lease): true while the lease holds. */
  held(): boolean;
  lose(why: string): void;
  close(): void;
}

/** `onLost` runs once, when the lease is lost. */
export function attemptLease(ctx: Context, onLost: () => void): AttemptLease {
  let lostBecause: string | undefined;
  const lose = (why: string) => {
    if (lostBecause !== undefined) return;
    lostBecause = why;
    onLost();
  };
  // The server times an attempt out after heartbeatTimeout without a heartbeat, and heartbeats leave at most
  // every second: a stall of the timeout less a second may already have cost the lease.
  const timeout = ctx.info.heartbeatTimeoutMs;
  const stallLimit = timeout ? Math.max(timeout - 1000, timeout / 2) : Infinity;
  let tickedAt = Date.now();
  const checkClock = () => {
    const gap = Date.now() - tickedAt;
    if (gap > stallLimit) lose(`this worker stood still ${(gap / 1000).toFixed(1)} s, longer than the heartbeat timeout allows`);
  };
  const ticker = setInterval(() => {
    checkClock();
    tickedAt = Date.now();
  }, 100);
  const onCancel = () => {
    const reason = String((ctx.cancellationSignal.reason as Error | undefined)?.message ?? ctx.cancellationSignal.reason);
    if (reason === 'TIMED_OUT' || reason === 'NOT_FOUND') lose(`the server gave this attempt up (${reason})`);
  };
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  return {
    get lostBecause() {
      return lostBecause;
    },
    held() {
      checkClock();
      return lostBecause === undefined;
    },
    lose,
    close() {
      clearInterval(ticker);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    },
  };
}
