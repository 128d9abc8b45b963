// Traffic shaping inside one sending attempt: which replies ask to slow down (for the mailer), what a throttled
// message does (back in the attempt's queue, its provider slowed down or suspended engine-wide), and why the rows
// left are held when the attempt hands the wait over to the workflow's timer (a suspension, the warm-up's day).
import { domainOf } from '../../domain/address';
import { describeAction, matchRule } from '../../domain/shaping-rules';
import type { ClaimedMessage } from '../../store/sending-logs';
import type { ShapingMatch } from '../mailer';
import type { Answered } from './outcomes';
import type { AttemptSetup } from './setup';

/** Longer than this, an attempt does not wait for held rows itself: it ends, and the workflow waits on a durable timer. */
export const HOLD_IN_ATTEMPT_MS = 60_000;

type Throttled = Extract<Answered, { throttled: unknown }>['throttled'];

export class AttemptShaping {
  /** The earliest far hold, and why (the workflow shows it while it waits). */
  private held: { until: number; because: string } | undefined;
  private readonly causes = new Map<string, string>();

  constructor(private readonly s: AttemptSetup) {}

  /** For the mailer: the rule a reply about this recipient's message matches. */
  matcher(email: string): ShapingMatch {
    return (code, reply) => matchRule(this.s.shapingRules, this.s.engine.keyOf(domainOf(email)), code, reply);
  }

  /** A throttling reply: the message goes back to the queue; its provider is slowed down or suspended for every sender. */
  onThrottled(row: ClaimedMessage, queue: ClaimedMessage[], t: Throttled): void {
    queue.unshift(row);
    const domain = domainOf(row.email);
    const cause = `${describeAction(t.rule.action)} (${t.rule.name})`;
    this.causes.set(this.s.engine.keyOf(domain), `${cause}: ${t.reply}`);
    const until = t.rule.action.kind === 'suspend' ? Date.now() + t.rule.action.forMs : undefined;
    // A failing database is the health check's to notice; the next throttling reply asks again.
    void this.s.engine.shape(domain, { reply: t.reply, cause }, until).catch(() => undefined);
  }

  /**
   * Splits deferrals: those due soon the attempt waits for (returned); a far one (a suspension, the warm-up's next day)
   * is noted as the hold and set to the exact end of its cause, so that the workflow's timer fires on it.
   */
  near(deferred: Array<{ id: number; until: Date }>, rows: ClaimedMessage[], now = Date.now()): Array<{ id: number; until: Date }> {
    const email = new Map(rows.map((r) => [r.id, r.email]));
    return deferred.filter((d) => {
      if (d.until.getTime() - now <= HOLD_IN_ATTEMPT_MS) return true;
      const domain = domainOf(email.get(d.id) ?? '');
      const hold = this.holdOf(domain, d.until.getTime());
      d.until = new Date(hold.until);
      if (!this.held || hold.until < this.held.until) this.held = hold;
      return false;
    });
  }

  /** Why a domain's messages wait that long, and until when: its warm-up allowance of the day is used, or its provider is suspended. */
  private holdOf(domain: string, until: number): { until: number; because: string } {
    const warmup = this.s.warmup?.exhausted(domain);
    if (warmup) return warmup;
    const key = this.s.engine.keyOf(domain);
    const end = this.s.engine.suspendedUntil(domain) || until;
    return { until: end, because: `${key} suspended until ${new Date(end).toISOString()}: ${this.causes.get(key) ?? 'a traffic shaping rule (see "delivery domains list")'}` };
  }

  /** Why the rows left wait, when a far hold was met. */
  get heldBecause(): string | undefined {
    return this.held?.because;
  }
}
