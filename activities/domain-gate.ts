// Per-domain throughput inside one sending activity: at most N messages per second and M messages in
// flight (≈ SMTP connections) for each domain the delivery caps, and the engine-wide caps every delivery
// shares (activities/engine-throttle.ts), and the sender domain's warm-up (activities/warmup-gate.ts): a message goes
// when all of them allow it.
import type { DomainLimits } from '../domain/spec';
import type { EngineThrottle } from './engine-throttle';
import type { WarmupGate } from './warmup-gate';

export interface DomainGate {
  /** True when a message to this domain may go now; it then counts as in flight until released. */
  tryAcquire(domain: string): boolean;
  /** A message to this domain has its outcome. */
  release(domain: string): void;
  /** How long until this domain may take a message (ms; 0: now; Infinity: when a message in flight ends). */
  waitMs(domain: string): number;
  /** Time between two messages of this domain under its rate caps (0 without one). */
  intervalMs(domain: string): number;
}

/** `share` divides the delivery's caps between its parallel senders (the engine-wide caps are shared by reservation). */
export function domainGate(limits: DomainLimits | undefined, share = 1, now = () => Date.now(), engine?: EngineThrottle, warmup?: WarmupGate): DomainGate {
  const state = new Map<string, { next: number; inFlight: number }>();
  const stateOf = (domain: string) => {
    let s = state.get(domain);
    if (!s) state.set(domain, (s = { next: 0, inFlight: 0 }));
    return s;
  };
  const ownInterval = (domain: string) => {
    const rate = limits?.[domain]?.messagesPerSecond;
    return rate ? 1000 / (rate / share) : 0;
  };
  const ownWait = (domain: string) => {
    const cap = limits?.[domain];
    if (!cap) return 0;
    const s = stateOf(domain);
    if (cap.connections !== undefined && s.inFlight >= Math.max(1, Math.floor(cap.connections / share))) return Infinity;
    return Math.max(0, s.next - now());
  };
  const waitMs = (domain: string) => {
    const own = ownWait(domain);
    if (own > 0) return own;
    const shared = engine?.waitMs(domain) ?? 0;
    return shared > 0 || !warmup ? shared : warmup.waitMs(domain);
  };
  return {
    waitMs,
    intervalMs: (domain) => Math.max(ownInterval(domain), engine?.intervalMs(domain) ?? 0),
    tryAcquire(domain) {
      const own = limits?.[domain];
      if (!own && !engine?.capped(domain) && !warmup) {
        engine?.take(domain); // counted: shaping starts from the rate the engine was sending at
        return true;
      }
      if (waitMs(domain) > 0) return false;
      engine?.take(domain);
      warmup?.take(domain);
      if (own) {
        const s = stateOf(domain);
        const interval = ownInterval(domain);
        // After an idle time, at most one message of catch-up: no burst above the cap.
        if (interval) s.next = Math.max(s.next, now() - interval) + interval;
        s.inFlight++;
      }
      return true;
    },
    release(domain) {
      if (limits?.[domain]) stateOf(domain).inFlight--;
    },
  };
}
