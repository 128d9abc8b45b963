// What a sending attempt needs before its first message: the prepared delivery, its stores (every database call
// through transient errors), its claim, its batch size, the engine's caps ready, and rows of dead attempts re-queued.
import { randomUUID } from 'node:crypto';
import type { Context } from '@temporalio/activity';
import type { DeliverySpec } from '../../domain/spec';
import { quarantine } from '../../store/quarantine';
import { optOuts } from '../../store/opt-outs';
import { lists } from '../../store/lists';
import { IN_LIST_MAX } from '../../store/json-lists';
import { databaseHealth, retryTransient } from '../../store/transient';
import { sendingLogs } from '../../store/sending-logs';
import { domainThrottles } from '../../store/domain-throttles';
import { loadPreparedDelivery } from '../../store/deliveries';
import type { ActivityDeps } from '../deps';
import { engineThrottle, type EngineThrottle, type ShapingNotice } from '../engine-throttle';
import { mailDomains } from '../../store/mail-domains';
import { shapingRules } from '../../store/shaping-rules';
import type { ShapingRule } from '../../domain/shaping-rules';
import { providerMap, type ProviderMap } from './providers';
import { SendingPlan } from './plan';
import { warmups } from '../../store/warmups';
import { warmupGate, type WarmupGate } from '../warmup-gate';
import { composer } from './composer';
import { signingPool, type SigningPool } from './signing-pool';
import { senderDomain, senderKeys } from './sender-keys';
import type { DkimKey } from '../../domain/dkim-keys';
import type { ClaimScope } from '../../store/sending-log-claims';

export interface SendInput {
  deliveryId: string;
  /** With parallel senders: this sender's number (0…lanes-1), how many there are, and their sending round. */
  lane?: number;
  lanes?: number;
  round?: string;
  /** When ops last resumed after the complaint breaker (ISO): the sender domain's complaints count from then. */
  complaintsSince?: string;
  /** An A/B test's first phase: only its test population goes; the rest waits for the winner. */
  testOnly?: boolean;
  /** A wave: only the messages up to this sending-log id go (PreparationResult.waves); the later waves wait. */
  upToId?: number;
}

type SendingLogs = ReturnType<typeof sendingLogs>;

export interface AttemptSetup {
  deliveryId: string;
  lane: number;
  lanes: number;
  spec: DeliverySpec;
  sendingStartedAt: Date;
  database: ReturnType<typeof databaseHealth>;
  logs: SendingLogs;
  addresses: ReturnType<typeof quarantine>;
  optOutList: ReturnType<typeof optOuts>;
  lists: ReturnType<typeof lists>;
  /** The list a delivery unsubscribes from: who left it since the preparation is not reached. */
  leftList: number | undefined;
  /** Engine-wide rates per recipient domain or provider, shared with every other delivery and worker (`delivery domains`, shaping). */
  engine: EngineThrottle;
  /** The provider of each recipient domain (resolved batch by batch). */
  providers: ProviderMap;
  /** The traffic shaping rules in force (built-in and ops'). */
  shapingRules: ShapingRule[];
  /** This attempt's claim on rows: `<round>/<lane>/<attempt>/<uuid>` (the fencing token of every write). */
  claim: string;
  /** Messages per second of this sender (the delivery's cap shared between its senders). */
  rate: number | undefined;
  /** At most `batch` in flight, as many claimed ahead, twice as many sent and not yet recorded. */
  batch: number;
  compose: ReturnType<typeof composer>;
  /** Signs with the sender domain's DKIM keys, off the main thread; none when the domain has no key. */
  signing: SigningPool | undefined;
  /** The sender's domain, and when ops last accepted its complaints by resuming (its complaint breaker counts from then). */
  senderDomain: string;
  complaintsSince: Date | undefined;
  /** Which messages this attempt may claim (SendInput.testOnly, SendInput.upToId). */
  scope: ClaimScope;
  /** The sender domain's warm-up (`delivery warmup`), when it has one: each provider's allowance of the day. */
  warmup: WarmupGate | undefined;
  /** The delivery's windows and daily cap, as they stand for this attempt. */
  plan: SendingPlan;
  /** The delivery's counts, kept up to date by the attempt (what progress reports show). */
  totals: Awaited<ReturnType<SendingLogs['sendingCounts']>>;
}

export async function setUpAttempt(ctx: Context, deps: ActivityDeps, { deliveryId, lane = 0, lanes = 1, round, complaintsSince, testOnly, upToId }: SendInput): Promise<AttemptSetup> {
  const { db, mailer } = deps;
  // Every database call of this attempt goes through transient errors, and none hands a message out meanwhile.
  const database = databaseHealth(deps.databaseRetryMs);
  const logs = sendingLogs(db, database.retry);
  const delivery = await loadPreparedDelivery(db, deliveryId, database.retry);
  const { spec } = delivery;
  const listStore = lists(db, database.retry);
  const leftList = spec.unsubscribeFrom === 'everything' ? undefined : await listStore.idOf(spec.unsubscribeFrom.list);
  const sendingStartedAt = delivery.sendingStartedAt ?? new Date();
  if (!delivery.sendingStartedAt) await retryTransient(() => db.delivery.update({ where: { id: deliveryId }, data: { sendingStartedAt } }), database.retry);

  const me = { round: round ?? `${ctx.info.workflowExecution?.runId ?? 'run'}.${ctx.info.activityId}`, lane, attempt: ctx.info.attempt };
  const providers = providerMap(mailDomains(db, database.retry), deps.lookupMx);
  // Slow-downs, suspensions and releases at info; the steps back up (every 2 s) at debug.
  const logChange = (n: ShapingNotice) => ctx.log[n.change === 'raised' ? 'debug' : 'info'](describeShaping(n), { provider: n.key, change: n.change, rate: n.rate });
  const engine = engineThrottle(domainThrottles(db, database.retry), { providerOf: (d) => providers.providerOf(d), lanes, onChange: logChange });
  let totals: AttemptSetup['totals'];
  let keys: DkimKey[] = [];
  let rules: ShapingRule[];
  let plan: SendingPlan;
  let warmup: WarmupGate | undefined;
  try {
    await engine.ready;
    rules = await shapingRules(db, database.retry).effective();
    plan = await SendingPlan.of(db, { deliveryId, spec, lane, lanes, database });
    const warmupStore = warmups(db, database.retry);
    const warming = await warmupStore.of(senderDomain(spec));
    if (warming) warmup = warmupGate(warmupStore, warming, (d) => providers.providerOf(d));
    await logs.requeueInFlight(deliveryId, me);
    totals = await logs.sendingCounts(deliveryId);
    if (spec.variants) totals.variants = await logs.sendingByVariant(deliveryId);
    if (deps.dkim) keys = await senderKeys(db, deps.dkim.secret, spec, database.retry);
  } catch (e) {
    engine.close();
    throw e;
  }
  const rate = spec.messagesPerSecond ? spec.messagesPerSecond / lanes : undefined;
  return {
    deliveryId, lane, lanes, spec, sendingStartedAt, database, logs,
    addresses: quarantine(db, database.retry), optOutList: optOuts(db, database.retry), lists: listStore, leftList, engine,
    providers, shapingRules: rules,
    claim: `${me.round}/${me.lane}/${me.attempt}/${randomUUID()}`,
    rate,
    // Enough to keep every connection busy, never more than about a second of a capped rate.
    batch: Math.max(1, Math.min(mailer.maxConnections * 4, IN_LIST_MAX, Math.ceil(rate ?? Infinity))),
    compose: composer(deliveryId, spec, deps.tracking, deps.bounceDomain),
    signing: keys.length ? signingPool(keys, deps.dkim?.threads) : undefined,
    senderDomain: senderDomain(spec),
    complaintsSince: complaintsSince ? new Date(complaintsSince) : undefined,
    scope: { ...(testOnly ? { testOnly } : {}), ...(upToId !== undefined ? { upToId } : {}) },
    plan, warmup, totals,
  };
}

/** "google slowed down to 12.5 messages/s: slow down (google-rate)" — each change shaping makes, in the worker's log. */
export function describeShaping(n: ShapingNotice): string {
  const rate = n.rate === undefined ? '' : ` ${Math.round(n.rate * 100) / 100} messages/s`;
  switch (n.change) {
    case 'slowed': return `${n.key} slowed down to${rate}: ${n.cause}`;
    case 'suspended': return `${n.key} suspended until ${new Date(n.suspendedUntil ?? 0).toISOString()}: ${n.cause}`;
    case 'raised': return `${n.key} raised to${rate}`;
    case 'released': return `${n.key} is sent to freely again (its rate is back where shaping found it)`;
  }
}
