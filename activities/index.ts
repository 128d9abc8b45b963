// The activities of a delivery, bound to the worker's resources.
import type { ActivityDeps } from './deps';
import { prepareActivity } from './prepare';
import { sendActivity } from './send';
import { reconcileActivity, stopActivity } from './stop';
import { proofActivity } from './proof';
import { abTestActivities } from './ab-test';
import { localTimeActivities } from './local-time';
import { optimalTimeActivities } from './optimal-time';
import { validateDeliverySpec } from '../domain/spec-problems';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    prepareDelivery: prepareActivity(deps),
    sendDelivery: sendActivity(deps),
    stopDelivery: stopActivity(deps),
    reconcileDelivery: reconcileActivity(deps),
    sendProof: proofActivity(deps),
    ...abTestActivities(deps),
    ...localTimeActivities(deps),
    ...optimalTimeActivities(deps),
    /** Problems of a spec (empty when usable): templates compile outside the workflow sandbox. */
    async checkSpec({ spec }: { spec: unknown }): Promise<string[]> {
      const verdict = validateDeliverySpec(spec, new Date());
      return verdict.ok ? [] : verdict.problems;
    },
  };
}
