// An A/B test's decision, outside the workflow (it reads the database and runs the statistics): what each variant
// measured and the verdict; then the rest of the target gets the winner.
import { abVerdict, type AbVerdict, type VariantTally } from '../domain/ab-test';
import { DEFAULT_MAX_COMPLAINT_RATE } from '../domain/complaint-guard';
import { DEFAULT_FAILURE_GUARD } from '../domain/failure-guard';
import type { DeliverySpec } from '../domain/spec';
import { abTallies } from '../store/ab-tallies';
import type { ActivityDeps } from './deps';

export interface AbTestInput {
  deliveryId: string;
  spec: Pick<DeliverySpec, 'variants' | 'abTest' | 'guard' | 'complaintGuard'>;
}

export interface AbJudgement {
  tallies: VariantTally[];
  verdict: AbVerdict;
}

export function abTestActivities(deps: ActivityDeps) {
  return {
    /** The test as it stands: by clicks, or by opens (manual tests are judged too: the verdict is shown as advice). */
    async judgeAbTest({ deliveryId, spec }: AbTestInput): Promise<AbJudgement> {
      const { variants, abTest } = spec;
      if (!variants || !abTest) throw new Error(`delivery ${deliveryId} has no A/B test`);
      const tallies = await abTallies(deps.db).of(deliveryId, variants.map((v) => v.name), abTest.winnerBy === 'opens' ? 'open' : 'click');
      // A variant that bounces or draws complaints above the delivery's own guards cannot win.
      const guards = {
        maxHardBounceRate: spec.guard ? spec.guard.maxHardFailureRate : DEFAULT_FAILURE_GUARD.maxHardFailureRate,
        maxComplaintRate: spec.complaintGuard ? spec.complaintGuard.maxComplaintRate : DEFAULT_MAX_COMPLAINT_RATE,
      };
      return { tallies, verdict: abVerdict(tallies, abTest.minimumPerVariant, guards) };
    },

    /** Idempotent: rows that already have a variant keep it. */
    async giveRestTheWinner({ deliveryId, winner }: { deliveryId: string; winner: string }): Promise<{ messages: number }> {
      return { messages: await abTallies(deps.db).giveRestTheWinner(deliveryId, winner) };
    },
  };
}
