// The recipient's local time, outside the workflow (tz data decides nothing in workflow code): a sending step's
// messages get their zone's local contact time, and the step learns its groups (one durable timer each).
import { Context } from '@temporalio/activity';
import { localTimeGroups } from '../domain/local-time';
import type { LocalTimeGroup } from '../domain/local-time-plan';
import type { IfPassed } from '../domain/sending-plan';
import { localTimes } from '../store/local-times';
import type { ClaimScope } from '../store/sending-log-claims';
import type { ActivityDeps } from './deps';

export interface LocalTimeInput {
  deliveryId: string;
  /** The step: an A/B test's population, a wave, or everything. */
  scope: ClaimScope;
  /** When the step starts (ISO, the workflow's time): a local time already passed then follows ifPassed. */
  startAt: string;
  /** The local contact time, without offset ("2026-12-10T09:00:00"). */
  scheduleAt: string;
  ifPassed: IfPassed;
}

export function localTimeActivities(deps: ActivityDeps) {
  return {
    /** Gives the step's messages not yet tried their local contact time, zone by zone; the groups, earliest first. */
    async planLocalTime({ deliveryId, scope, startAt, scheduleAt, ifPassed }: LocalTimeInput): Promise<LocalTimeGroup[]> {
      const store = localTimes(deps.db);
      const groups = localTimeGroups(await store.perZone(deliveryId, scope), scheduleAt, new Date(startAt), ifPassed);
      for (const g of groups) {
        await store.schedule(deliveryId, scope, g.zones, new Date(g.at));
        Context.current().heartbeat(); // a large group is a long statement: the activity is alive between groups
      }
      return groups;
    },
  };
}
