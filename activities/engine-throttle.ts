// The engine-wide caps per recipient domain (store/domain-throttles.ts), as one sending attempt sees them: the
// slots it reserved in the database, handed out one message at a time. Reserved a quarter of a second at a time,
// the next block asked for while half of the current one is left, so the database sees a few writes a second per
// capped domain and sender. A slot missed (the sender was busy) is dropped rather than used late: slots are
// never bunched up, so the domain never sees more than its cap, only sometimes less.
import type { SlotBlock } from '../store/domain-throttles';

export interface ThrottleSource {
  caps(): Promise<Map<string, number>>;
  reserve(domain: string, count: number): Promise<SlotBlock | undefined>;
}

export interface EngineThrottle {
  /** Whether the domain has an engine-wide cap. */
  capped(domain: string): boolean;
  /** How long until a message to this domain may start (ms; 0: now). */
  waitMs(domain: string): number;
  /** Takes the slot `waitMs` just found free. */
  take(domain: string): void;
  /** Time between two messages of this domain under its cap (0 without one). */
  intervalMs(domain: string): number;
  close(): void;
}

export interface ThrottleOptions {
  /** How often the caps are read again (a cap set or changed with `delivery domains` applies within that). */
  refreshMs?: number;
  /** How much sending one reservation covers. */
  blockMs?: number;
  now?: () => number;
}

/** While a reservation is under way (or failed), how long the domain waits before it is looked at again. */
const PENDING_WAIT_MS = 50;

interface DomainSlots {
  blocks: SlotBlock[];
  /** Slots of blocks[0] used or dropped. */
  used: number;
  reserving?: Promise<void>;
}

/** The caps as read once; `ready` resolves when they have been. */
export function engineThrottle(source: ThrottleSource, options: ThrottleOptions = {}): EngineThrottle & { ready: Promise<void> } {
  const now = options.now ?? Date.now;
  const blockMs = options.blockMs ?? 250;
  let caps = new Map<string, number>();
  const slots = new Map<string, DomainSlots>();
  const refresh = () => source.caps().then((c) => void (caps = c));
  const timer = setInterval(() => void refresh().catch(() => undefined), options.refreshMs ?? 5000);
  timer.unref();
  const ready = refresh().catch((e: unknown) => {
    clearInterval(timer);
    throw e;
  });

  const slotsOf = (domain: string) => {
    let s = slots.get(domain);
    if (!s) slots.set(domain, (s = { blocks: [], used: 0 }));
    return s;
  };
  const reserve = (domain: string, s: DomainSlots) => {
    const rate = caps.get(domain)!;
    const count = Math.max(2, Math.ceil((rate * blockMs) / 1000));
    s.reserving = source.reserve(domain, count)
      .then((block) => {
        if (block) s.blocks.push(block);
        else caps.delete(domain); // the cap was removed meanwhile
      })
      .catch(() => undefined) // the database is failing: its health check holds the hand-out back; ask again later
      .finally(() => (s.reserving = undefined));
  };
  /** The next free slot's time, dropping the missed ones; undefined when the blocks are used up. */
  const nextSlot = (s: DomainSlots): number | undefined => {
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
  const left = (s: DomainSlots) => s.blocks.reduce((n, b) => n + b.count, 0) - s.used;

  return {
    ready,
    capped: (domain) => caps.has(domain),
    waitMs(domain) {
      if (!caps.has(domain)) return 0;
      const s = slotsOf(domain);
      const next = nextSlot(s);
      if (!s.reserving && (next === undefined || left(s) <= Math.ceil((s.blocks[0]?.count ?? 0) / 2))) reserve(domain, s);
      return next === undefined ? PENDING_WAIT_MS : Math.max(0, next - now());
    },
    take(domain) {
      if (caps.has(domain)) slotsOf(domain).used++;
    },
    intervalMs: (domain) => (caps.has(domain) ? 1000 / caps.get(domain)! : 0),
    close: () => clearInterval(timer),
  };
}
