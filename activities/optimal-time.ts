// The best time per recipient, outside the workflow: a step's messages get the hour (within 24 h of the step's start)
// their recipient engages most, by their own history pulled toward the audience's; a holdout keeps the start time, so
// the lift can be measured. The step learns its groups (one per hour, one durable timer each).
import { createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { LocalTimeGroup } from '../domain/local-time-plan';
import { audiencePattern, bestHour, emptyHistory, hourOfWeek, type History } from '../domain/optimal-time';
import { optimalTimes, type SendTimeClass } from '../store/optimal-times';
import type { ClaimScope } from '../store/sending-log-claims';
import type { ActivityDeps } from './deps';

const HOUR = 3600_000;

export interface OptimalTimeInput {
  deliveryId: string;
  scope: ClaimScope;
  /** When the step starts (ISO): the window is the 24 h from it, and the default time. */
  startAt: string;
  /** The share of the step's messages sent at the default time, to measure the lift (0 to 50). */
  holdoutPercent: number;
}

export function optimalTimeActivities(deps: ActivityDeps) {
  return {
    async planOptimalTimes({ deliveryId, scope, startAt, holdoutPercent }: OptimalTimeInput): Promise<LocalTimeGroup[]> {
      const store = optimalTimes(deps.db);
      const start = new Date(startAt);
      const historiesOf = async (page: Array<{ profileId: number }>) => {
        Context.current().heartbeat(); // alive page after page
        const histories = new Map<number, History>();
        for (const e of await store.engagements(page.map((m) => m.profileId), deliveryId)) {
          const h = histories.get(e.profileId) ?? emptyHistory();
          h[hourOfWeek(e.at)]++;
          histories.set(e.profileId, h);
        }
        return histories;
      };
      // Two passes, a page in memory at a time: the audience's pattern first (everyone's hour is judged against it).
      const sum = emptyHistory();
      for await (const page of store.stepMessages(deliveryId, scope)) {
        for (const h of (await historiesOf(page)).values()) for (let w = 0; w < h.length; w++) sum[w] += h[w];
      }
      const pattern = audiencePattern([sum]);
      const perHour = new Map<number, number>();
      for await (const page of store.stepMessages(deliveryId, scope)) {
        const histories = await historiesOf(page);
        const groups = new Map<string, number[]>();
        for (const m of page) {
          const history = histories.get(m.profileId);
          const holdout = inHoldout(deliveryId, m.addressKey, holdoutPercent);
          const hour = holdout || !history ? undefined : bestHour(history, pattern, start);
          const cls: SendTimeClass = holdout ? 'holdout' : hour === undefined ? 'default' : 'optimal';
          const key = `${hour ?? 0}|${cls}`;
          const ids = groups.get(key) ?? [];
          ids.push(m.id);
          groups.set(key, ids);
        }
        for (const [key, ids] of groups) {
          const [hour, cls] = key.split('|') as [string, SendTimeClass];
          await store.assign(ids, new Date(start.getTime() + Number(hour) * HOUR), cls);
          perHour.set(Number(hour), (perHour.get(Number(hour)) ?? 0) + ids.length);
        }
      }
      return [...perHour].sort((a, b) => a[0] - b[0])
        .map(([hour, messages]) => ({ at: new Date(start.getTime() + hour * HOUR).toISOString(), offsets: [], zones: [], messages }));
    },
  };
}

/** The holdout: a keyed hash of the address below the share (keyed by the delivery, not the A/B test's key: another draw). */
function inHoldout(deliveryId: string, addressKey: string, percent: number): boolean {
  const rank = parseInt(createHmac('sha256', `send-time:${deliveryId}`).update(addressKey).digest('hex').slice(0, 8), 16) / 0x1_0000_0000;
  return rank < percent / 100;
}
