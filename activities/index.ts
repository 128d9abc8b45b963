// The activities of a delivery, bound to the worker's resources.
import type { ActivityDeps } from './deps';
import { prepareActivity } from './prepare';
import { sendActivity } from './send';
import { stopActivity } from './stop';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    prepareDelivery: prepareActivity(deps),
    sendDelivery: sendActivity(deps),
    stopDelivery: stopActivity(deps),
  };
}
