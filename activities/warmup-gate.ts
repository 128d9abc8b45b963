// A sender domain's warm-up, as one sending attempt applies it: each provider's allowance of the day (UTC), taken from
// the database in blocks (store/warmups.ts) and handed out one message at a time. When a provider's allowance is used,
// its messages wait for the next day; the others go on. What the attempt took and did not use goes back at its end.
import { PROVIDER_NAMES } from '../domain/providers';
import { allowanceOn, nextUtcDay, OTHER_PROVIDERS, utcDay, type WarmupPlan } from '../domain/warmup';

export interface WarmupStore {
  take(senderDomain: string, provider: string, day: string, want: number, allowance: number): Promise<number>;
  giveBack(senderDomain: string, provider: string, day: string, unused: number): Promise<void>;
}

export interface WarmupGate {
  /** How long until a message to this domain fits the warm-up (ms; 0: now). */
  waitMs(domain: string): number;
  take(domain: string): void;
  /** Why this domain's messages wait for another day, and until when (the next UTC day), when they do. */
  exhausted(domain: string): { until: number; because: string } | undefined;
  close(): Promise<void>;
}

/** While a block is being taken, how long the provider waits before it is looked at again. */
const PENDING_WAIT_MS = 50;

interface ProviderDay {
  day: string;
  tokens: number;
  used: boolean;
  asking?: Promise<void>;
}

export function warmupGate(store: WarmupStore, plan: WarmupPlan, providerOf: (domain: string) => string, now = () => Date.now()): WarmupGate {
  const days = new Map<string, ProviderDay>();
  const groupOf = (domain: string) => {
    const p = providerOf(domain);
    return PROVIDER_NAMES.has(p) ? p : OTHER_PROVIDERS;
  };
  const stateOf = (group: string): ProviderDay => {
    const day = utcDay(now());
    let s = days.get(group);
    if (!s || s.day !== day) {
      if (s && s.tokens > 0) void store.giveBack(plan.senderDomain, group, s.day, s.tokens).catch(() => undefined);
      days.set(group, (s = { day, tokens: 0, used: false }));
    }
    return s;
  };
  return {
    waitMs(domain) {
      const group = groupOf(domain);
      const s = stateOf(group);
      if (s.tokens > 0) return 0;
      if (s.used) return Date.parse(nextUtcDay(now())) - now();
      if (!s.asking) {
        const allowance = allowanceOn(plan, s.day);
        const want = Math.max(1, Math.min(50, Math.ceil(allowance / 20)));
        s.asking = store.take(plan.senderDomain, group, s.day, want, allowance)
          .then((granted) => {
            if (granted > 0) s.tokens += granted;
            else s.used = true;
          })
          .catch(() => undefined) // the database is failing: its health check holds the hand-out back
          .finally(() => (s.asking = undefined));
      }
      return PENDING_WAIT_MS;
    },
    take(domain) {
      stateOf(groupOf(domain)).tokens--;
    },
    exhausted(domain) {
      const group = groupOf(domain);
      const s = stateOf(group);
      if (!s.used) return undefined;
      const next = nextUtcDay(Date.parse(`${s.day}T00:00:00Z`));
      return {
        until: Date.parse(next),
        because: `the warm-up of ${plan.senderDomain} allows ${allowanceOn(plan, s.day)} messages to ${group} on ${s.day}, all sent: ` +
          `${allowanceOn(plan, next.slice(0, 10))} more from ${next}`,
      };
    },
    async close() {
      for (const [group, s] of days) {
        if (s.tokens > 0) await store.giveBack(plan.senderDomain, group, s.day, s.tokens).catch(() => undefined);
        s.tokens = 0;
      }
    },
  };
}
