// Preparation: target → typology rules → rendered and checked message per recipient → sending logs.
// Resumable: rows are written per batch of profiles in id order, so a retried attempt continues
// after the highest profile id already recorded.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { EXCLUSION_CAUSES, type ExclusionCause, type PreparationResult } from '../domain/delivery';
import { addressKey } from '../domain/address';
import { describeFinding, type ControlFinding } from '../domain/control-rules';
import { exclusionCause } from '../domain/exclusions';
import type { DeliverySpec } from '../domain/spec';
import { storedSpec } from '../store/deliveries';
import { personalizationOf } from '../domain/template';
import { assignVariants } from '../domain/ab-test';
import { decideAfterMs } from '../domain/sending-plan';
import { localTimeGroups, recipientZone } from '../domain/local-time';
import type { LocalTimeGroup } from '../domain/local-time-plan';
import { localTimes } from '../store/local-times';
import { lastWaveWarning, tooManyWaves, waveSizes, type PreparedWave, type Waves } from '../domain/waves';
import { resolveTypology, selectHoldouts } from '../domain/typology';
import { AudienceError, preparationPage, targetOf, type AddressStanding, type Target } from '../store/audience';
import { lists } from '../store/lists';
import { preparationLogs, type NewSendingLog } from '../store/sending-logs';
import { isStatementRefused, retryTransient } from '../store/transient';
import type { ActivityDeps } from './deps';
import { startProgress } from './progress';
import { checkRecipient, preparationContents, renderedFindings } from './preparation-content';

// Each batch runs synchronously in SQLite: small enough that heartbeats and queries are not kept waiting.
// (Its insert and lookups bind one JSON parameter each, so the size is not bound by SQLite's parameter cap.)
const PROFILES_PER_BATCH = 1000;
const DAY_MS = 24 * 3600 * 1000;
/** Pages after which the sending logs' statistics are refreshed (store/sending-logs.ts refreshStatistics). */
const STATISTICS_AFTER_PAGES = new Set([1, 10, 100]);

export interface PrepareInput {
  deliveryId: string;
  /** Identifies the workflow run that owns the delivery's rows. */
  runKey: string;
  /** Parsed by the workflow (parseDeliverySpec): templates and links are checked here. */
  spec: DeliverySpec;
}

export function prepareActivity(deps: ActivityDeps) {
  return async function prepareDelivery({ deliveryId, runKey, spec }: PrepareInput): Promise<PreparationResult> {
    const ctx = Context.current();
    const typology = resolveTypology(spec.typology);
    const { db } = deps;
    const { contents, fields, findings: contentFindings } = await preparationContents(deps, spec, typology);
    failOnErrors(contentFindings);
    const logs = preparationLogs(db);

    const existing = await db.delivery.findUnique({ where: { id: deliveryId }, select: { runKey: true, createdAt: true } });
    if (existing && workflowOf(existing.runKey) !== workflowOf(runKey)) {
      // Its links, bounces, pressure history and proofs belong to the earlier delivery: nothing of it is replaced.
      throw ApplicationFailure.nonRetryable(`the delivery id "${deliveryId}" belongs to an earlier delivery (created ${existing.createdAt.toISOString()}) ` +
        'whose records are kept: start this one under a new id (delivery start gives one by default)', 'DeliveryIdTaken');
    }
    if (existing?.runKey !== runKey) {
      // An edit: what was prepared for the earlier content version (never handed out) is not this content's.
      await logs.forgetPrepared(deliveryId);
      await retryTransient(() => db.delivery.upsert({
        where: { id: deliveryId },
        create: { id: deliveryId, runKey, name: spec.name, spec: storedSpec(spec) },
        update: { runKey, name: spec.name, spec: storedSpec(spec), preparedAt: null, sendingStartedAt: null },
      }));
    }

    // Who left the list this delivery unsubscribes from is out of it, as an opt-out is out of everything.
    const { target, leftList } = await audienceOf(db, spec);
    let cursor = await logs.preparationCursor(deliveryId);
    let processed = cursor === 0 ? 0 : await db.sendingLog.count({ where: { deliveryId } });
    const progress = startProgress(ctx, () => ({ phase: 'preparation', processed, cursor }), deps.signalProgress, deps.progressEveryMs);
    try {
      if (cursor > 0) await recheckPrepared(); // this attempt resumes: the checks must still see every message
      let pages = 0;
      const pressureSince = typology.pressure ? new Date(Date.now() - typology.pressure.periodDays * DAY_MS) : undefined;
      for (;;) {
        // better-sqlite3 answers synchronously: without this the loop would starve heartbeats,
        // cancellation and the workflow tasks of this worker.
        await yieldToEventLoop();
        if (ctx.cancellationSignal.aborted) await ctx.cancelled; // throws CancelledFailure
        const page = await evaluable(() => preparationPage(db, target, { deliveryId, leftList, afterId: cursor, take: PROFILES_PER_BATCH }));
        if (page.length === 0) break;
        const profiles = page.map((r) => r.profile);
        const keys = profiles.map((p) => addressKey(p.email));
        const keysWhere = (flag: keyof AddressStanding) => new Set(keys.filter((_, i) => page[i].standing[flag]));
        // Addresses kept by earlier pages, then by this page as it goes (the first eligible profile wins).
        const targeted = keysWhere('targeted');
        const exclusionContext = {
          targeted,
          typology,
          quarantined: keysWhere('quarantined'),
          optedOut: keysWhere('optedOut'),
          recentMessages: pressureSince ? await logs.sentCountsSince(profiles.map((p) => p.id), pressureSince, deliveryId) : new Map<number, number>(),
        };
        const rows = profiles.map((p, i): NewSendingLog => {
          const cause = exclusionCause(p, exclusionContext);
          if (cause) return excluded(deliveryId, p, cause);
          targeted.add(keys[i]);
          const personalization = personalizationOf(p, fields);
          checkRecipient(contents, p.id, personalization);
          return { deliveryId, profileId: p.id, email: p.email, status: 'pending', personalization: JSON.stringify(personalization) };
        });
        await logs.insert(rows);
        if (STATISTICS_AFTER_PAGES.has(++pages)) await logs.refreshStatistics();
        cursor = profiles[profiles.length - 1].id;
        processed += rows.length;
      }
      if (typology.controlGroup || typology.capacity) {
        await logs.applyHoldouts(deliveryId, [EXCLUSION_CAUSES.controlGroup, EXCLUSION_CAUSES.capacity], (candidates) => {
          const { controlGroup, capacity } = selectHoldouts(candidates, typology, deliveryId);
          return { [EXCLUSION_CAUSES.controlGroup]: controlGroup, [EXCLUSION_CAUSES.capacity]: capacity };
        });
      }
      // After the hold-outs: the test population is drawn among the messages that will go.
      if (spec.variants && spec.abTest) {
        const names = spec.variants.map((v) => v.name);
        await logs.applyVariants(deliveryId, (candidates) => assignVariants(candidates, names, spec.abTest!.percent, deliveryId));
      }
    } finally {
      await progress.stop();
    }
    const findings = [...contentFindings, ...renderedFindings(contents)];
    failOnErrors(findings);

    const { toDeliver, exclusions } = await logs.exclusionCounts(deliveryId);
    await retryTransient(() => db.delivery.update({ where: { id: deliveryId }, data: { preparedAt: new Date() } }));
    const toExclude = Object.values(exclusions).reduce((a, b) => a + b, 0);
    const variants = spec.variants && (await logs.variantCounts(deliveryId, spec.variants.map((v) => v.name)));
    const waves = spec.waves && (await prepareWaves(spec.waves, toDeliver - Object.values(variants ?? {}).reduce((a, b) => a + b, 0)));
    const warnings = [...findings.map(describeFinding), ...(waves?.warning ? [waves.warning] : [])];
    const localTime = spec.timeZone === 'recipient' ? await prepareLocalTime(spec) : undefined;
    return {
      targeted: toDeliver + toExclude, toDeliver, toExclude, exclusions, warnings,
      ...(variants ? { variants } : {}), ...(waves ? { waves: waves.waves } : {}), ...(localTime ? { localTime } : {}),
    };

    /** Each message's zone, and the groups as they would go if sending started now (the contact date is the first). */
    async function prepareLocalTime(spec: DeliverySpec): Promise<LocalTimeGroup[]> {
      const store = localTimes(db);
      await store.applyZones(deliveryId, (p) => recipientZone(p, spec.defaultTimeZone));
      return localTimeGroups(await store.perZone(deliveryId, {}), spec.scheduleAt!, new Date(), spec.ifPassed);
    }

    /** The waves of what remains after the test population: their sizes, where each ends, and the scheduling check. */
    async function prepareWaves(w: Waves, messages: number): Promise<{ waves: PreparedWave[]; warning?: string }> {
      const sizes = waveSizes(w, messages);
      const tooMany = tooManyWaves(w, sizes);
      if (tooMany) throw ApplicationFailure.nonRetryable(tooMany, 'ControlRuleFailed');
      const ends = await logs.waveEnds(deliveryId, sizes);
      const decideAfter = spec.abTest ? decideAfterMs(spec.abTest) : 0;
      return { waves: sizes.map((n, i) => ({ messages: n, lastId: ends[i] })), warning: lastWaveWarning(w, sizes.length, spec.retries.validitySeconds, decideAfter) };
    }

    async function recheckPrepared() {
      for (let after = 0; ;) {
        const rows = await logs.preparedAfter(deliveryId, after, PROFILES_PER_BATCH);
        if (rows.length === 0) return;
        for (const r of rows) checkRecipient(contents, r.profileId, JSON.parse(r.personalization) as Record<string, unknown>);
        after = rows[rows.length - 1].id;
        await yieldToEventLoop();
      }
    }
  };
}

/**
 * The audience resolved now, and the list its unsubscribe link leaves (if any): an unknown segment or list, or a
 * cycle, fails the preparation with its path.
 */
async function audienceOf(db: ActivityDeps['db'], spec: DeliverySpec): Promise<{ target: Target; leftList?: number }> {
  try {
    const listName = spec.unsubscribeFrom === 'everything' ? undefined : spec.unsubscribeFrom.list;
    const leftList = listName === undefined ? undefined : await lists(db).idOf(listName);
    if (listName !== undefined && leftList === undefined) {
      throw new AudienceError([`unsubscribeFrom.list: unknown list "${listName}"; create it with "delivery lists create ${listName}"`]);
    }
    return { target: await retryTransient(() => targetOf(db, spec.audience)), leftList };
  } catch (e) {
    if (e instanceof AudienceError) throw ApplicationFailure.nonRetryable(e.message, 'InvalidAudience');
    throw e;
  }
}

/**
 * The audience's statement, refused by the database as too large or too deep: the same statement would fail on
 * every retry, so the preparation fails for good with the database's words instead of looping.
 */
async function evaluable<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (e) {
    if (!isStatementRefused(e)) throw e;
    throw ApplicationFailure.nonRetryable(`the database cannot evaluate the audience (${String((e as Error).message).replace(/\s+/g, ' ').slice(0, 200)}): ` +
      'simplify the condition (fewer nested groups; long lists of values in one "in" list)', 'InvalidAudience');
  }
}

/** runKey = <first run id of the workflow>#<content version>. */
function workflowOf(runKey: string): string {
  return runKey.split('#')[0];
}

/** Error-level control rules block the delivery. */
function failOnErrors(findings: ControlFinding[]): void {
  const errors = findings.filter((f) => f.level === 'error');
  if (errors.length) throw ApplicationFailure.nonRetryable(errors.map(describeFinding).join('; '), 'ControlRuleFailed');
}

function excluded(deliveryId: string, p: { id: number; email: string }, cause: ExclusionCause): NewSendingLog {
  return { deliveryId, profileId: p.id, email: p.email, status: 'ignored', exclusionCause: cause, personalization: '{}' };
}
