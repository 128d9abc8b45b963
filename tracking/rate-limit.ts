// Per-client token buckets: a flood from one address gets 429s instead of filling the event queue.
export interface RateLimiter {
  /** True when the client may make one more request now. */
  take(client: string): boolean;
}

export function rateLimiter({ perSecond, burst }: { perSecond: number; burst: number }, now = () => Date.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(client) {
      const t = now();
      const b = buckets.get(client) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
      b.at = t;
      // Forget full buckets now and then, so the map holds only recently active clients.
      if (buckets.size > 10_000) {
        for (const [k, v] of buckets) if (v.tokens + ((t - v.at) / 1000) * perSecond >= burst) buckets.delete(k);
      }
      if (b.tokens < 1) {
        buckets.set(client, b);
        return false;
      }
      b.tokens -= 1;
      buckets.set(client, b);
      return true;
    },
  };
}
