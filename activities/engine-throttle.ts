// The engine-wide rates per recipient domain or mailbox provider (store/domain-throttles.ts), as one sending attempt
// sees them: the slots it reserved in the database, handed out one message at a time. Reserved a quarter of a second
// at a time, the next block asked for while half of the current one is left, so the database sees a few writes a
// second per key and sender. A slot missed (the sender was busy) is dropped rather than used late: slots are never
// bunched up, so a key never sees more than its rate, only sometimes less.
//
// Traffic shaping lives here too: a provider's throttling reply halves its rate for every sender (or suspends it),
// and clean sending raises it back step by step (domain/shaping-rules.ts). A message goes to the key of its domain:
// the domain itself when ops capped it, else its provider (gmail.com → google).
import type { ShapingChange, ShapingEvent, SlotBlock, ThrottleState } from '../store/domain-throttles';
import { AIMD } from '../domain/shaping-rules';

export interface ThrottleSource {
  caps(): Promise<Map<string, ThrottleState>>;
  reserve(key: string, count: number): Promise<SlotBlock | undefined>;
  slow(key: string, e: ShapingEvent): Promise<ShapingChange>;
  suspend(key: string, until: number, e: ShapingEvent): Promise<ShapingChange>;
  raise(key: string, now?: number): Promise<{ change: 'raised' | 'released' | 'unchanged'; rate?: number }>;
}

/** A change shaping made, for the attempt to log. */
export interface ShapingNotice {
  key: string;
  change: 'slowed' | 'suspended' | 'raised' | 'released';
  rate?: number;
  suspendedUntil?: number;
  cause?: string;
}

export interface EngineThrottle {
  /** Whether the domain's key has an engine-wide rate. */
  capped(domain: string): boolean;
  /** How long until a message to this domain may start (ms; 0: now). */
  waitMs(domain: string): number;
  /** Takes the slot `waitMs` just found free (and counts the start, for the rate shaping starts from). */
  take(domain: string): void;
  /** Time between two messages of this domain's key under its rate (0 without one). */
  intervalMs(domain: string): number;
  /** The key a domain's messages count against. */
  keyOf(domain: string): string;
  /** A throttling reply about this domain: slow its key down, or suspend it until `suspendUntil`. */
  shape(domain: string, e: Omit<ShapingEvent, 'observedRate'>, suspendUntil?: number): Promise<ShapingChange>;
  /** Until when the domain's key is suspended (0: it is not). */
  suspendedUntil(domain: string): number;
  close(): void;
}

export interface ThrottleOptions {
  /** How often the rates are read again (a cap set with `delivery domains`, another sender's slow-down). */
  refreshMs?: number;
  /** How much sending one reservation covers. */
  blockMs?: number;
  /** The provider of a domain (none: each domain is its own key). */
  providerOf?: (domain: string) => string;
  /** Senders of this delivery: the rate one of them sees is a share of the engine's. */
  lanes?: number;
  /** How often clean sending is looked at for a raise (the database allows one per AIMD.raiseEveryMs). */
  raiseEveryMs?: number;
  /** Told of every change shaping made (logs). */
  onChange?: (n: ShapingNotice) => void;
  now?: () => number;
}

/** While a reservation is under way (or failed), how long the key waits before it is looked at again. */
const PENDING_WAIT_MS = 50;
/** The window the rate shaping starts from is measured over. */
const OBSERVED_WINDOW_MS = 2000;

interface KeySlots {
  blocks: SlotBlock[];
  /** Slots of blocks[0] used or dropped. */
  used: number;
  reserving?: Promise<void>;
}

interface KeyTraffic {
  starts: number[];
  /** Starts since the last raise, and when a throttling reply last came. */
  sinceRaise: number;
  throttledAt: number;
}

/** The rates as read once; `ready` resolves when they have been. */
export function engineThrottle(source: ThrottleSource, options: ThrottleOptions = {}): EngineThrottle & { ready: Promise<void> } {
  const now = options.now ?? Date.now;
  const blockMs = options.blockMs ?? 250;
  const providerOf = options.providerOf ?? ((d: string) => d);
  let caps = new Map<string, ThrottleState>();
  const slots = new Map<string, KeySlots>();
  const traffic = new Map<string, KeyTraffic>();
  const refresh = () => source.caps().then((c) => void (caps = c));
  const timer = setInterval(() => void refresh().catch(() => undefined), options.refreshMs ?? 2000);
  timer.unref();
  const ready = refresh().catch((e: unknown) => {
    clearInterval(timer);
    throw e;
  });
  const keyOf = (domain: string) => (caps.has(domain) ? domain : providerOf(domain));

  const slotsOf = (key: string) => {
    let s = slots.get(key);
    if (!s) slots.set(key, (s = { blocks: [], used: 0 }));
    return s;
  };
  const trafficOf = (key: string) => {
    let t = traffic.get(key);
    if (!t) traffic.set(key, (t = { starts: [], sinceRaise: 0, throttledAt: 0 }));
    return t;
  };
  const reserve = (key: string, s: KeySlots) => {
    const rate = caps.get(key)!.rate;
    const count = Math.max(2, Math.ceil((rate * blockMs) / 1000));
    s.reserving = source.reserve(key, count)
      .then((block) => {
        if (!block) return void caps.delete(key); // the cap was removed meanwhile
        s.blocks.push(block);
        const state = caps.get(key);
        if (state) state.rate = block.rate;
      })
      .catch(() => undefined) // the database is failing: its health check holds the hand-out back; ask again later
      .finally(() => (s.reserving = undefined));
  };
  /** The next free slot's time, dropping the missed ones; undefined when the blocks are used up. */
  const nextSlot = (s: KeySlots): number | undefined => {
    const t = now();
    while (s.blocks.length > 0) {
      const b = s.blocks[0];
      // A slot more than one interval in the past is missed: at most one message catches up.
      const missed = Math.ceil((t - b.intervalMs - b.startsAt) / b.intervalMs);
      if (missed > s.used) s.used = missed;
      if (s.used < b.count) return b.startsAt + s.used * b.intervalMs;
      s.blocks.shift();
      s.used = 0;
    }
    return undefined;
  };
  const left = (s: KeySlots) => s.blocks.reduce((n, b) => n + b.count, 0) - s.used;
  /** Messages per second this sender started to the key lately, times the delivery's senders. */
  const observedRate = (key: string) => {
    const t = trafficOf(key);
    const from = now() - OBSERVED_WINDOW_MS;
    t.starts = t.starts.filter((s) => s > from);
    if (t.starts.length === 0) return AIMD.minRate;
    return (t.starts.length / Math.max(0.25, (now() - t.starts[0]) / 1000)) * (options.lanes ?? 1);
  };

  // Clean sending raises the shaped rates, one step per interval (the database keeps one raise per step engine-wide).
  const raising = setInterval(() => {
    for (const [key, t] of traffic) {
      const state = caps.get(key);
      // Keys without a rate that saw no message lately are forgotten (a list of many small domains stays small here).
      if (!state && (t.starts.length === 0 || t.starts[t.starts.length - 1] < now() - OBSERVED_WINDOW_MS)) traffic.delete(key);
      if (!state || t.sinceRaise === 0 || now() - t.throttledAt < AIMD.raiseEveryMs) continue;
      t.sinceRaise = 0;
      source.raise(key).then((r) => {
        if (r.change === 'released') {
          caps.delete(key);
          slots.delete(key);
          options.onChange?.({ key, change: 'released' });
        } else if (r.change === 'raised' && r.rate !== undefined) {
          const current = caps.get(key);
          if (current) current.rate = r.rate;
          options.onChange?.({ key, change: 'raised', rate: r.rate });
        }
      }).catch(() => undefined);
    }
  }, options.raiseEveryMs ?? AIMD.raiseEveryMs);
  raising.unref();

  return {
    ready,
    keyOf,
    capped: (domain) => caps.has(keyOf(domain)),
    waitMs(domain) {
      const key = keyOf(domain);
      const state = caps.get(key);
      if (!state) return 0;
      if (state.suspendedUntil > now()) return state.suspendedUntil - now();
      const s = slotsOf(key);
      const next = nextSlot(s);
      if (!s.reserving && (next === undefined || left(s) <= Math.ceil((s.blocks[0]?.count ?? 0) / 2))) reserve(key, s);
      return next === undefined ? PENDING_WAIT_MS : Math.max(0, next - now());
    },
    take(domain) {
      const key = keyOf(domain);
      const t = trafficOf(key);
      t.starts.push(now());
      if (t.starts.length > 4096) t.starts.splice(0, 2048);
      t.sinceRaise++;
      if (caps.has(key)) slotsOf(key).used++;
    },
    intervalMs: (domain) => {
      const state = caps.get(keyOf(domain));
      return state ? 1000 / state.rate : 0;
    },
    suspendedUntil: (domain) => caps.get(keyOf(domain))?.suspendedUntil ?? 0,
    async shape(domain, e, suspendUntil) {
      const key = keyOf(domain);
      trafficOf(key).throttledAt = now();
      const event = { ...e, observedRate: observedRate(key) };
      const change = suspendUntil === undefined ? await source.slow(key, event) : await source.suspend(key, suspendUntil, event);
      if (change.rate > 0) {
        caps.set(key, { rate: change.rate, suspendedUntil: change.suspendedUntil });
        slots.delete(key); // blocks reserved at the old rate: the next ones follow the new one
      }
      if (change.change !== 'unchanged') options.onChange?.({ key, change: change.change, rate: change.rate, suspendedUntil: change.suspendedUntil, cause: e.cause });
      return change;
    },
    close: () => {
      clearInterval(timer);
      clearInterval(raising);
    },
  };
}
