// Preparation: target → always-on typology rules → rendered message per recipient → sending logs.
// Resumable: rows are written per batch of profiles in id order, so a retried attempt continues
// after the highest profile id already recorded.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PreparationResult, ExclusionCause } from '../domain/delivery';
import { addressKey } from '../domain/address';
import { exclusionCause } from '../domain/exclusions';
import { checkDeliverySpec, type DeliverySpec } from '../domain/spec';
import { compileTemplates, personalizationOf, TemplateError, type CompiledTemplates } from '../domain/template';
import { audienceWhere } from '../store/audience';
import { sendingLogs, type NewSendingLog } from '../store/sending-logs';
import type { ActivityDeps } from './deps';
import { startProgress } from './progress';

const PROFILES_PER_BATCH = 2000;

export interface PrepareInput {
  deliveryId: string;
  /** Identifies the workflow run that owns the delivery's rows. */
  runKey: string;
  spec: unknown;
}

export function prepareActivity(deps: ActivityDeps) {
  return async function prepareDelivery({ deliveryId, runKey, spec: input }: PrepareInput): Promise<PreparationResult> {
    const ctx = Context.current();
    const spec = validSpec(input);
    const templates = validTemplates(spec);
    const { db } = deps;
    const logs = sendingLogs(db);

    const existing = await db.delivery.findUnique({ where: { id: deliveryId }, select: { runKey: true } });
    if (existing?.runKey !== runKey) {
      // A new workflow under a reused id: what an earlier run prepared is not this delivery's.
      await logs.forget(deliveryId);
      await db.delivery.upsert({
        where: { id: deliveryId },
        create: { id: deliveryId, runKey, name: spec.name, spec: JSON.stringify(spec) },
        update: { runKey, name: spec.name, spec: JSON.stringify(spec), preparedAt: null },
      });
    }

    let cursor = await logs.preparationCursor(deliveryId);
    const targeted = new Set((await logs.targetedAddresses(deliveryId)).map(addressKey));
    let processed = cursor === 0 ? 0 : await db.sendingLog.count({ where: { deliveryId } });
    const progress = startProgress(ctx, () => ({ phase: 'preparation', processed, cursor }), deps.signalProgress, deps.progressEveryMs);
    try {
      const audience = audienceWhere(spec.audience);
      for (;;) {
        // better-sqlite3 answers synchronously: without this the loop would starve heartbeats,
        // cancellation and the workflow tasks of this worker.
        await yieldToEventLoop();
        if (ctx.cancellationSignal.aborted) await ctx.cancelled; // throws CancelledFailure
        const profiles = await db.profile.findMany({
          where: { AND: [audience, { id: { gt: cursor } }] }, orderBy: { id: 'asc' }, take: PROFILES_PER_BATCH,
        });
        if (profiles.length === 0) break;
        const rows = profiles.map((p): NewSendingLog => {
          const cause = exclusionCause(p, targeted);
          if (cause) return excluded(deliveryId, p, cause);
          targeted.add(addressKey(p.email));
          const profile = { ...p, email: p.email.trim(), attributes: templates.fields.includes('attributes') ? parseAttributes(p.attributes) : {} };
          const personalization = personalizationOf(profile, templates.fields);
          renderOrFail(templates, personalization, p.id);
          return { deliveryId, profileId: p.id, email: profile.email, status: 'pending', personalization: JSON.stringify(personalization) };
        });
        await logs.insert(rows);
        cursor = profiles[profiles.length - 1].id;
        processed += rows.length;
      }
    } finally {
      await progress.stop();
    }

    const { toDeliver, exclusions } = await logs.exclusionCounts(deliveryId);
    await db.delivery.update({ where: { id: deliveryId }, data: { preparedAt: new Date() } });
    const toExclude = Object.values(exclusions).reduce((a, b) => a + (b ?? 0), 0);
    return { targeted: toDeliver + toExclude, toDeliver, toExclude, exclusions, warnings: [] };
  };
}

function validSpec(input: unknown): DeliverySpec {
  const check = checkDeliverySpec(input);
  if (!check.ok) throw ApplicationFailure.nonRetryable(`invalid delivery spec: ${check.errors.join('; ')}`, 'InvalidDeliverySpec');
  return check.spec;
}

function validTemplates(spec: DeliverySpec): CompiledTemplates {
  try {
    return compileTemplates(spec);
  } catch (e) {
    if (e instanceof TemplateError) throw ApplicationFailure.nonRetryable(e.message, 'InvalidTemplate');
    throw e;
  }
}

function renderOrFail(templates: CompiledTemplates, data: Record<string, unknown>, profileId: number): void {
  try {
    templates.render(data);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`message of profile ${profileId} cannot be rendered: ${(e as Error).message}`, 'InvalidTemplate');
  }
}

function excluded(deliveryId: string, p: { id: number; email: string }, cause: ExclusionCause): NewSendingLog {
  return { deliveryId, profileId: p.id, email: p.email.trim(), status: 'ignored', exclusionCause: cause, personalization: '{}' };
}

function parseAttributes(json: string): Record<string, string> {
  try {
    const v = JSON.parse(json) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}
