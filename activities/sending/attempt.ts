// One sending attempt, as its steps: pump (claim due messages and hand them to SMTP, outcomes recorded as they
// come) → settle (give back what was not sent, record the rest) → verdict (how the attempt ends) → report.
// Every fault stops the hand-out at once, before it can cause a resend: a database error (the attempt waits for
// the database, then fails if it does not come back), a relay fault (given back unsent; a permanent one pauses
// the delivery), too many failures (the guard pauses it), a lost lease (another attempt took over), pause, stop
// and shutdown. What can be sent twice is only what the attempt holds when it dies: at most 4 × batch rows,
// counted as possible duplicates by the attempt that takes over.
import { setMaxListeners } from 'node:events';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, type Context } from '@temporalio/activity';
import { reasonKey } from '../../domain/failures';
import { describeRelayFault, type RelayFault } from '../../domain/smtp-faults';
import { describeTrip, failureGuard } from '../../domain/failure-guard';
import { complaintTrip, describeSenderTrip, SENDER_WINDOW_MS } from '../../domain/complaint-guard';
import { senderComplaints } from '../../store/sender-complaints';
import { retryTransient } from '../../store/transient';
import { domainOf } from '../../domain/address';
import type { Halt, SendingResult } from '../../domain/delivery';
import { attemptVerdict } from '../../domain/attempt-verdict';
import type { ClaimedMessage } from '../../store/sending-logs';
import type { ActivityDeps } from '../deps';
import type { SendResult } from '../mailer';
import { outcomeRecorder } from '../outcome-recorder';
import { attemptLease } from '../lease';
import { pacer } from '../pacer';
import { domainGate } from '../domain-gate';
import { startProgress } from '../progress';
import type { AttemptSetup } from './setup';
import { withoutBarred } from './barred';
import { answerOf } from './outcomes';
import { outcomeWriter } from './recording';
import { nextAllowed, turnsOf } from './turns';
import { AttemptShaping } from './shaping';
import { attemptReport } from './report';
import { InFlight } from './in-flight';

/** Outcomes are written every 100 ms, or at once when a batch of them waits. */
const RECORD_EVERY_MS = 100;
/** How often a sender looks for DSNs that failed its messages (the failure-rate guard counts them). */
const BOUNCES_EVERY_MS = 1000;
/** How often the first sender reads its sender domain's complaints across deliveries. */
const SENDER_COMPLAINTS_EVERY_MS = 10_000;
/** How often the signalling sender counts the other senders' messages (from the database). */
const COUNT_OTHERS_EVERY_MS = 2000;

export class SendingAttempt {
  /** Aborted: no more messages are handed out, and those still waiting for a connection are given back. */
  private readonly handOut = new AbortController();
  private readonly stop = () => this.handOut.abort();
  private readonly lease;
  private readonly recorder;
  private readonly progress;
  private readonly pace;
  private readonly gate;
  private readonly guard;
  private readonly shaping: AttemptShaping;
  /** A relay fault only ops can fix, or the failure-rate guard: the delivery pauses. */
  private halted: Halt | undefined;
  /** A temporary relay fault: this attempt fails and is retried with backoff. */
  private unavailable: string | undefined;
  /** The signing pool failed: this attempt fails and is retried with a new one. */
  private signingFailure: string | undefined;
  private queue: ClaimedMessage[] = [];
  private readonly unsent: number[] = [];
  private readonly inFlight = new InFlight();
  private cursor = 0;
  private deferredUntil = 0;
  private countedAt = Date.now();
  /** Only this attempt's messages are read: no need to trust one clock against another. */
  private bouncesSeenUntil = new Date(0);
  private bouncesReadAt = Date.now();
  private complaintsReadAt = 0;
  private readonly senderDomainComplaints: ReturnType<typeof senderComplaints>;

  constructor(private readonly ctx: Context, private readonly deps: ActivityDeps, private readonly s: AttemptSetup) {
    // Only the first sender signals progress: the counts are the delivery's, whoever sends.
    // Complaints are left out: they arrive by the bounce listener and the webhooks, whose reports carry them (these
    // totals would hold the count of the attempt's start and take the KPI back).
    this.progress = startProgress(ctx, () => ({ phase: 'sending', ...s.totals, complaints: undefined, cursor: this.cursor }),
      s.lane === 0 ? deps.signalProgress : async () => undefined, deps.progressEveryMs, s.sendingStartedAt);
    this.pace = pacer(s.rate);
    this.senderDomainComplaints = senderComplaints(deps.db);
    this.gate = domainGate(s.spec.domainLimits, s.lanes, undefined, s.engine, s.warmup);
    this.guard = failureGuard(s.spec.guard ?? false);
    this.shaping = new AttemptShaping(s);
    ctx.cancellationSignal.addEventListener('abort', this.stop, { once: true }); // pause, stop, worker shutdown
    // Each message waiting for a connection listens for the withdrawal (up to a batch of them): not a leak.
    setMaxListeners(Infinity, this.handOut.signal);
    this.lease = attemptLease(ctx, this.stop);
    this.recorder = outcomeRecorder(outcomeWriter(s, this.lease, deps), { everyMs: RECORD_EVERY_MS, chunk: s.batch });
  }

  async run(): Promise<SendingResult> {
    let finished = false;
    try {
      if (!this.s.plan.atStart) await this.pump();
      await this.settle();
      await this.verdict();
      finished = true;
    } finally {
      await this.close(finished);
    }
    return attemptReport(this.s, this.halted, this.shaping.heldBecause);
  }

  private stopped(): boolean {
    return this.handOut.signal.aborted || this.recorder.failure !== undefined;
  }

  /** One stream of messages: the next batch is claimed while the last one is still in flight. */
  private async pump(): Promise<void> {
    try {
      while (!this.stopped() && !this.s.plan.done()) { // the plan: the window closes, the day's cap is reached
        if (!this.s.database.healthy || this.recorder.backlog >= 2 * this.s.batch) {
          await sleep(10); // the database is failing, or outcomes wait to be recorded: nothing goes out meanwhile
          continue;
        }
        if (this.queue.length === 0 && (await this.refill()) !== 'ready') {
          if (this.stopped() || (await this.nothingDue()) === 'done') break;
          continue;
        }
        while (this.inFlight.size >= this.s.batch && !this.stopped()) await this.inFlight.oneSettled();
        if (this.stopped()) break;
        await this.handOutNext();
      }
    } finally {
      await this.inFlight.all();
    }
  }

  /** Claims the next batch of due rows, without those barred since the preparation. */
  private async refill(): Promise<'ready' | 'empty'> {
    await yieldToEventLoop(); // synchronous SQLite calls must not starve heartbeats and workflow tasks
    for (;;) {
      const claimed = await this.s.logs.claim(this.s.deliveryId, this.s.claim, this.s.batch, this.s.scope);
      if (claimed.length === 0) return 'empty';
      this.queue = await withoutBarred(this.s, claimed);
      await this.s.providers.resolve(this.queue.map((r) => domainOf(r.email)));
      if (this.queue.length > 0) break;
      if (this.stopped()) return 'empty';
    }
    this.cursor = this.queue[this.queue.length - 1].id;
    if (this.s.spec.guard && Date.now() - this.bouncesReadAt > BOUNCES_EVERY_MS) {
      await this.judgeBounces();
      this.bouncesReadAt = Date.now();
    }
    if (this.s.spec.complaintGuard && this.s.lane === 0 && Date.now() - this.complaintsReadAt > SENDER_COMPLAINTS_EVERY_MS) {
      await this.judgeSenderComplaints(this.s.spec.complaintGuard.maxComplaintRate);
      this.complaintsReadAt = Date.now();
    }
    // The other senders' counts, and an A/B test's counts per variant, are read back now and then.
    if (((this.s.lanes > 1 && this.s.lane === 0) || this.s.spec.variants) && Date.now() - this.countedAt > COUNT_OTHERS_EVERY_MS) {
      if (this.s.lanes > 1 && this.s.lane === 0) Object.assign(this.s.totals, await this.s.logs.sendingCounts(this.s.deliveryId));
      if (this.s.spec.variants) this.s.totals.variants = await this.s.logs.sendingByVariant(this.s.deliveryId);
      this.countedAt = Date.now();
    }
    return 'ready';
  }

  /** Nothing claimable now: wait for messages in flight or held back by a domain cap, else the sending is done. */
  private async nothingDue(): Promise<'wait' | 'done'> {
    if (this.inFlight.size > 0) {
      await this.inFlight.oneSettled();
      return 'wait';
    }
    const wait = this.deferredUntil - Date.now();
    if (wait > 0) {
      await sleep(Math.min(wait, 250));
      return 'wait';
    }
    // Done, unless a claim whose reply was lost left rows claimed under this attempt.
    await this.recorder.drain().catch(() => undefined);
    if (this.stopped() || (await this.s.logs.releaseOrphans(this.s.deliveryId, this.s.claim)) === 0) return 'done';
    return 'wait';
  }

  private async handOutNext(): Promise<void> {
    const next = nextAllowed(this.gate, this.queue);
    if (next === undefined) {
      // Only capped domains are left: hand their rows back until their turn, and let the next batch (other domains)
      // go ahead instead of waiting behind them. A longer hold (a suspended provider) is the workflow's to wait for.
      const rows = this.queue.splice(0);
      const held = turnsOf(this.gate, rows);
      const near = this.shaping.near(held, rows);
      await this.s.logs.defer(this.s.claim, held);
      for (const d of near) this.deferredUntil = Math.max(this.deferredUntil, d.until.getTime());
      return;
    }
    const paced = this.pace();
    if (paced) await paced;
    if (this.stopped() || !this.lease.held() || !this.s.database.healthy) {
      this.gate.release(domainOf(next.email));
      this.queue.unshift(next);
      return;
    }
    this.s.plan.handOut();
    this.inFlight.add(this.send(next), this.stop);
  }

  /** Hands one message to SMTP (signed first when the sender domain has keys); its outcome joins the next recording. */
  private async send(row: ClaimedMessage): Promise<void> {
    let result: SendResult;
    try {
      const message = this.s.compose(row);
      if (this.s.signing) {
        try {
          message.raw = await this.s.signing.sign(message.raw);
        } catch (e) {
          this.unsent.push(row.id); // never sent unsigned: given back, for the next attempt to sign
          this.signingFailure ??= (e as Error).message;
          this.stop();
          return;
        }
      }
      result = await this.deps.mailer.send(message, this.handOut.signal, this.shaping.matcher(row.email));
    } finally {
      this.gate.release(domainOf(row.email));
    }
    const answer = answerOf(row, result, this.s.sendingStartedAt, this.s.spec.retries);
    if ('throttled' in answer) return this.shaping.onThrottled(row, this.queue, answer.throttled);
    if ('unsent' in answer) {
      this.unsent.push(row.id);
      if (answer.fault) this.relayFault(answer.fault);
      return;
    }
    this.recorder.add(answer.outcome);
    this.halt(this.guard.add(answer.counted), describeTrip);
  }

  /** A breaker tripped: the delivery pauses with the first cause (the one to fix). */
  private halt<T>(trip: T | undefined, describe: (t: T) => string, complaints?: true): void {
    if (!trip || this.halted) return;
    this.halted = { by: 'guard', reason: describe(trip), ...(complaints ? { complaints } : {}) };
    this.stop();
  }

  /** DSNs of this attempt's messages that failed them since the last look: the guard counts them too. */
  private async judgeBounces(): Promise<void> {
    for (const { reason, bouncedAt } of await this.s.logs.bouncedSince(this.s.deliveryId, this.s.claim, this.bouncesSeenUntil)) {
      this.bouncesSeenUntil = bouncedAt;
      this.halt(this.guard.amend(reasonKey(reason)), describeTrip);
    }
  }

  /**
   * The complaint breaker of the sender domain, across its deliveries of the last 24 h (since ops last accepted them):
   * a domain drawing complaints pauses every delivery it sends, this one included.
   */
  private async judgeSenderComplaints(maxComplaintRate: number): Promise<void> {
    const since = new Date(Math.max(Date.now() - SENDER_WINDOW_MS, this.s.complaintsSince?.getTime() ?? 0));
    const c = await retryTransient(() => this.senderDomainComplaints(this.s.senderDomain, since), this.s.database.retry);
    const trip = complaintTrip(c.complaints, c.delivered, maxComplaintRate);
    this.halt(trip, (t) => describeSenderTrip(this.s.senderDomain, t, c.deliveries), true);
  }

  private relayFault(fault: RelayFault): void {
    if (fault.permanent) this.halted ??= { by: 'relay', reason: describeRelayFault(fault) };
    else this.unavailable ??= fault.cause;
    this.stop();
  }

  /** Gives back what was not sent and records every outcome, unless the recording failed (the next attempt re-queues). */
  private async settle(): Promise<void> {
    if (this.recorder.failure !== undefined) return;
    await this.s.logs.release(this.s.claim, [...this.unsent, ...this.queue.map((r) => r.id)]);
    await this.recorder.drain().catch(() => undefined);
  }

  /** Throws how the attempt ends when it is not a normal end (a retry, or the workflow's cancellation). */
  private async verdict(): Promise<void> {
    const signal = this.ctx.cancellationSignal;
    const failure = this.recorder.failure as { message?: unknown } | undefined;
    const verdict = attemptVerdict({
      recordingFailure: this.recorder.failure === undefined ? undefined : String(failure?.message ?? failure),
      leaseLostBecause: this.lease.lostBecause,
      halted: this.halted !== undefined,
      relayUnavailable: this.unavailable,
      signingFailure: this.signingFailure,
      cancelledBy: !signal.aborted ? undefined : (signal.reason as Error | undefined)?.message === 'WORKER_SHUTDOWN' ? 'worker shutdown' : 'workflow',
    });
    if (verdict.end === 'retry') throw ApplicationFailure.retryable(verdict.message, verdict.type);
    if (verdict.end === 'cancelled') await this.ctx.cancelled; // throws CancelledFailure: the workflow paused or stopped
  }

  private async close(finished: boolean): Promise<void> {
    this.recorder.stop();
    this.lease.close();
    this.s.engine.close();
    await this.s.warmup?.close();
    await this.s.signing?.close();
    this.ctx.cancellationSignal.removeEventListener('abort', this.stop);
    // Interrupted (pause, stop, relay outage): tell the workflow the exact totals before it moves on. An attempt
    // that lost its lease reports nothing: its totals are no longer the delivery's.
    await this.progress.stop({ signal: !finished && !this.lease.lostBecause });
  }
}
