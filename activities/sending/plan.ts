// The delivery's own sending plan, as one attempt applies it: its windows (quiet hours outside) and its daily cap.
// Outside a window, or with the day's messages sent, the attempt hands nothing out and tells the workflow when to
// come back: the workflow waits on a durable timer (pause and stop still work meanwhile), never the activity.
import { dayOf, localTime, windowState } from '../../domain/sending-windows';
import type { DeliverySpec } from '../../domain/spec';
import { retryTransient } from '../../store/transient';
import type { Database } from '../../store/prisma';
import type { AttemptSetup } from './setup';

/** Why nothing more goes out now, and when sending may go on (ISO). */
export interface PlanHold {
  until: string;
  because: string;
}

export class SendingPlan {
  private handedOut = 0;

  private constructor(
    private readonly spec: DeliverySpec,
    /** The hold when the attempt starts (outside a window, the day's cap reached). */
    readonly atStart: PlanHold | undefined,
    /** When this attempt must stop handing out (the window closes, the day ends), ms since the epoch. */
    private readonly stopAt: number,
    /** How many messages this sender may still hand out today (Infinity: no daily cap). */
    private readonly dayLeft: number,
  ) {}

  static async of(db: Database, s: Pick<AttemptSetup, 'deliveryId' | 'spec' | 'lane' | 'lanes' | 'database'>, now = new Date()): Promise<SendingPlan> {
    const { spec } = s;
    let stopAt = Infinity;
    if (spec.windows) {
      const w = windowState(spec.windows, now);
      if (!w.open) return new SendingPlan(spec, outsideWindows(spec, w.opensAt), 0, 0);
      stopAt = Date.parse(w.closesAt);
    }
    let dayLeft = Infinity;
    if (spec.maxPerDay) {
      const day = dayOf(now, spec.windows?.[0].timeZone);
      const sentToday = await retryTransient(() => db.sendingLog.count({ where: { deliveryId: s.deliveryId, sentAt: { gte: new Date(day.start) } } }), s.database.retry);
      const left = Math.max(0, spec.maxPerDay - sentToday);
      if (left === 0) return new SendingPlan(spec, dayFull(spec, day.next), 0, 0);
      // The senders share what is left of the day; the first ones take the remainder.
      dayLeft = Math.floor(left / s.lanes) + (s.lane < left % s.lanes ? 1 : 0);
      stopAt = Math.min(stopAt, Date.parse(day.next));
    }
    return new SendingPlan(spec, undefined, stopAt, dayLeft);
  }

  /** True when the next message must not go out (the window closed, the day's share is sent). */
  done(now = Date.now()): boolean {
    return now >= this.stopAt || this.handedOut >= this.dayLeft;
  }

  handOut(): void {
    this.handedOut++;
  }

  /** After the attempt: the hold to report when it stopped for the plan (undefined: it did not). */
  holdAfter(now = new Date()): PlanHold | undefined {
    if (this.atStart) return this.atStart;
    if (!this.done(now.getTime())) return undefined;
    if (this.spec.windows) {
      const w = windowState(this.spec.windows, now);
      if (!w.open) return outsideWindows(this.spec, w.opensAt);
    }
    if (this.spec.maxPerDay) {
      const day = dayOf(now, this.spec.windows?.[0].timeZone);
      if (this.handedOut >= this.dayLeft) return dayFull(this.spec, day.next);
      return { until: now.toISOString(), because: 'a new day of the daily cap begins' };
    }
    return { until: now.toISOString(), because: 'the sending window goes on' };
  }
}

function outsideWindows(spec: DeliverySpec, opensAt: string): PlanHold {
  const zone = spec.windows![0].timeZone;
  return { until: opensAt, because: `outside the sending window: it opens at ${opensAt} (${localTime(opensAt, zone)})` };
}

function dayFull(spec: DeliverySpec, next: string): PlanHold {
  return { until: next, because: `the daily cap of ${spec.maxPerDay} messages is reached: the rest goes on at ${next}` };
}
