import { engineThrottle, type ThrottleSource } from '../../activities/engine-throttle';
import { domainGate } from '../../activities/domain-gate';
import type { SlotBlock } from '../../store/domain-throttles';

/** The DomainThrottle table in memory, with the reservation's SQL semantics (store/domain-throttles.ts). */
function table(clock: { t: number }, caps: Record<string, number>) {
  const rows = new Map(Object.entries(caps).map(([domain, rate]) => [domain, { rate, nextAt: 0 }]));
  let reservations = 0;
  const source: ThrottleSource = {
    caps: async () => new Map([...rows].map(([d, r]) => [d, r.rate])),
    reserve: async (domain, count): Promise<SlotBlock | undefined> => {
      const r = rows.get(domain);
      if (!r) return undefined;
      reservations++;
      const intervalMs = 1000 / r.rate;
      r.nextAt = Math.max(r.nextAt, clock.t) + count * intervalMs;
      return { startsAt: r.nextAt - count * intervalMs, intervalMs, count };
    },
  };
  return { source, rows, get reservations() { return reservations; } };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('engine-wide domain caps (activities/engine-throttle.ts)', () => {
  it('two senders sharing a cap of 20/s stay under it in every second, and use most of it', async () => {
    const clock = { t: 1_000_000 };
    const db = table(clock, { 'gmail.com': 20 });
    const senders = [engineThrottle(db.source, { now: () => clock.t }), engineThrottle(db.source, { now: () => clock.t })];
    await Promise.all(senders.map((s) => s.ready));
    const starts: number[] = [];
    for (let step = 0; step < 500; step++) { // 5 s in steps of 10 ms, each sender sending whenever it may
      for (const s of senders) {
        while (s.waitMs('gmail.com') === 0) {
          s.take('gmail.com');
          starts.push(clock.t);
        }
      }
      await settle(); // reservations answer
      clock.t += 10;
    }
    senders.forEach((s) => s.close());
    for (let from = 1_000_000; from < clock.t - 1000; from += 100) {
      expect(starts.filter((t) => t >= from && t < from + 1000).length).toBeLessThanOrEqual(21); // the cap, plus one catching up
    }
    expect(starts.length).toBeGreaterThanOrEqual(90); // of 100 in 5 s
    expect(db.reservations).toBeLessThan(60); // blocks of a quarter second, not a write per message
  });

  it('drops the slots a busy sender missed instead of sending them in a burst', async () => {
    const clock = { t: 0 };
    const db = table(clock, { 'gmail.com': 10 });
    const sender = engineThrottle(db.source, { now: () => clock.t });
    await sender.ready;
    expect(sender.waitMs('gmail.com')).toBe(50); // nothing reserved yet: asked for
    await settle();
    expect(sender.waitMs('gmail.com')).toBe(0);
    sender.take('gmail.com');
    clock.t += 2000; // the sender was busy: its block is long past
    let burst = 0;
    while (sender.waitMs('gmail.com') === 0 && burst < 10) {
      sender.take('gmail.com');
      burst++;
    }
    expect(burst).toBeLessThanOrEqual(1);
    sender.close();
  });

  it('leaves uncapped domains alone, applies a delivery\'s own cap and the engine\'s together, and forgets a removed cap', async () => {
    const clock = { t: 0 };
    const db = table(clock, { 'gmail.com': 100 });
    const engine = engineThrottle(db.source, { now: () => clock.t });
    await engine.ready;
    const gate = domainGate({ 'gmail.com': { messagesPerSecond: 1 } }, 1, () => clock.t, engine);
    expect(gate.tryAcquire('example.com')).toBe(true);
    expect(db.reservations).toBe(0);
    expect(gate.tryAcquire('gmail.com')).toBe(false); // the engine's slots are being reserved
    await settle();
    expect(gate.tryAcquire('gmail.com')).toBe(true);
    expect(gate.tryAcquire('gmail.com')).toBe(false); // the delivery's own 1/s
    expect(gate.intervalMs('gmail.com')).toBe(1000);
    db.rows.delete('gmail.com');
    clock.t += 5000;
    while (engine.waitMs('gmail.com') === 0) engine.take('gmail.com'); // uses up what was reserved, then asks again
    await settle();
    expect(engine.capped('gmail.com')).toBe(false);
    engine.close();
  });

  it('takes up a cap set while it runs at its next read of the caps', async () => {
    const clock = { t: 0 };
    const db = table(clock, {});
    const engine = engineThrottle(db.source, { now: () => clock.t, refreshMs: 20 });
    await engine.ready;
    expect(engine.capped('gmail.com')).toBe(false);
    db.rows.set('gmail.com', { rate: 5, nextAt: 0 }); // `delivery domains set gmail.com --rate 5`
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(engine.capped('gmail.com')).toBe(true);
    expect(engine.intervalMs('gmail.com')).toBe(200);
    engine.close();
  });
});
