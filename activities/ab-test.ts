// An A/B test's decision, outside the workflow (it reads the database and runs the statistics): what each variant
// measured and the verdict; then the rest of the target gets the winner.
import { abVerdict, type AbVerdict, type VariantTally } from '../domain/ab-test';
import { DEFAULT_MAX_COMPLAINT_RATE } from '../domain/complaint-guard';
import { DEFAULT_FAILURE_GUARD } from '../domain/failure-guard';
import type { DeliverySpec } from '../domain/spec';
import type { AbTest } from '../domain/sending-plan';
import { abTallies } from '../store/ab-tallies';
import type { ActivityDeps } from './deps';

/** Small on purpose (it is in the history): the variants' names and the rules, not their content. */
export interface AbTestInput {
  deliveryId: string;
  variants: string[];
  abTest: AbTest;
  guard: DeliverySpec['guard'];
  complaintGuard: DeliverySpec['complaintGuard'];
}

export interface AbJudgement {
  tallies: VariantTally[];
  verdict: AbVerdict;
}

export function abTestActivities(deps: ActivityDeps) {
  return {
    /** The test as it stands: by clicks, or by opens (manual tests are judged too: the verdict is shown as advice). */
    async judgeAbTest({ deliveryId, variants, abTest, guard, complaintGuard }: AbTestInput): Promise<AbJudgement> {
      const tallies = await abTallies(deps.db).of(deliveryId, variants, abTest.winnerBy === 'opens' ? 'open' : 'click');
      // A variant that bounces or draws complaints above the delivery's own guards cannot win.
      const guards = {
        maxHardBounceRate: guard ? guard.maxHardFailureRate : DEFAULT_FAILURE_GUARD.maxHardFailureRate,
        maxComplaintRate: complaintGuard ? complaintGuard.maxComplaintRate : DEFAULT_MAX_COMPLAINT_RATE,
      };
      return { tallies, verdict: abVerdict(tallies, abTest.minimumPerVariant, guards) };
    },

    /** Idempotent: rows that already have a variant keep it. */
    async giveRestTheWinner({ deliveryId, winner }: { deliveryId: string; winner: string }): Promise<{ messages: number }> {
      return { messages: await abTallies(deps.db).giveRestTheWinner(deliveryId, winner) };
    },
  };
}
