import { engineThrottle, type ThrottleSource } from '../../activities/engine-throttle';
import { domainGate } from '../../activities/domain-gate';
import type { SlotBlock } from '../../store/domain-throttles';
import { AIMD, raisedRate, slowedRate } from '../../domain/shaping-rules';

/** The DomainThrottle table in memory, with the SQL semantics of store/domain-throttles.ts (reservation and shaping). */
function table(clock: { t: number }, caps: Record<string, number>) {
  type Row = { rate: number; nextAt: number; cap?: number; ceiling?: number; peak?: number; slowedAt: number; raisedAt: number; suspendedUntil: number };
  const rows = new Map<string, Row>(Object.entries(caps).map(([domain, rate]) => [domain, { rate, cap: rate, nextAt: 0, slowedAt: 0, raisedAt: 0, suspendedUntil: 0 }]));
  let reservations = 0;
  const source: ThrottleSource = {
    caps: async () => new Map([...rows].map(([d, r]) => [d, { rate: r.rate, suspendedUntil: r.suspendedUntil }])),
    reserve: async (domain, count): Promise<SlotBlock | undefined> => {
      const r = rows.get(domain);
      if (!r) return undefined;
      reservations++;
      const intervalMs = 1000 / r.rate;
      r.nextAt = Math.max(r.nextAt, clock.t, r.suspendedUntil) + count * intervalMs;
      return { startsAt: r.nextAt - count * intervalMs, intervalMs, count, rate: r.rate };
    },
    slow: async (key, e) => {
      const r = rows.get(key);
      if (r && r.slowedAt > clock.t - AIMD.coolDownMs) return { change: 'unchanged', rate: r.rate, suspendedUntil: r.suspendedUntil };
      if (r) Object.assign(r, { peak: r.rate, rate: slowedRate(r.rate), slowedAt: clock.t });
      else rows.set(key, { rate: slowedRate(e.observedRate), ceiling: e.observedRate, peak: e.observedRate, nextAt: 0, slowedAt: clock.t, raisedAt: 0, suspendedUntil: 0 });
      return { change: 'slowed', rate: rows.get(key)!.rate, suspendedUntil: rows.get(key)!.suspendedUntil };
    },
    suspend: async (key, until, e) => {
      const r = rows.get(key) ?? { rate: e.observedRate, ceiling: e.observedRate, nextAt: 0, slowedAt: clock.t, raisedAt: 0, suspendedUntil: 0 };
      rows.set(key, { ...r, suspendedUntil: until });
      return { change: 'suspended', rate: r.rate, suspendedUntil: until };
    },
    raise: async (key) => {
      const r = rows.get(key);
      const since = clock.t - AIMD.raiseEveryMs;
      if (!r || r.suspendedUntil > clock.t || r.slowedAt > since || r.raisedAt > since) return { change: 'unchanged' };
      const limit = r.cap ?? r.ceiling!;
      if (r.cap === undefined && r.rate >= limit) {
        rows.delete(key);
        return { change: 'released' };
      }
      if (r.rate >= limit) return { change: 'unchanged' };
      Object.assign(r, { rate: raisedRate(r.rate, r.peak ?? null, limit), raisedAt: clock.t });
      return { change: 'raised', rate: r.rate };
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
    db.rows.set('gmail.com', { rate: 5, cap: 5, nextAt: 0, slowedAt: 0, raisedAt: 0, suspendedUntil: 0 }); // `delivery domains set gmail.com --rate 5`
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(engine.capped('gmail.com')).toBe(true);
    expect(engine.intervalMs('gmail.com')).toBe(200);
    engine.close();
  });
});

describe('traffic shaping per provider (activities/engine-throttle.ts, AIMD of domain/shaping-rules.ts)', () => {
  const google = (d: string) => (d === 'gmail.com' || d === 'googlemail.com' ? 'google' : d);
  const tick = () => new Promise((resolve) => setTimeout(resolve, 40));
  const reply = { reply: '421 4.7.28 unusual rate', cause: 'slow down (google-rate)' };

  it('halves a provider\'s rate for every sender once per cool-down, raises it back while clean, and lets it go at the rate it found', async () => {
    const clock = { t: 1_000_000 };
    const db = table(clock, {});
    const [a, b] = [0, 1].map(() => engineThrottle(db.source, { now: () => clock.t, providerOf: google, refreshMs: 10, raiseEveryMs: 10 }));
    await Promise.all([a.ready, b.ready]);
    for (let i = 0; i < 200; i++) { // 100 messages a second to gmail.com for 2 s, uncapped
      a.take('gmail.com');
      clock.t += 10;
    }
    expect(a.capped('gmail.com')).toBe(false);
    expect((await a.shape('gmail.com', reply)).change).toBe('slowed');
    expect(db.rows.get('google')).toMatchObject({ ceiling: expect.closeTo(100, 0), rate: expect.closeTo(50, 0) });
    // Another sender's reply within the cool-down (a message already on its way) changes nothing; googlemail.com is Google too.
    await tick();
    expect((await b.shape('googlemail.com', reply)).change).toBe('unchanged');
    expect(b.intervalMs('googlemail.com')).toBeCloseTo(20, 0);
    clock.t += AIMD.coolDownMs;
    expect((await b.shape('googlemail.com', reply)).rate).toBeCloseTo(25, 0);
    // Clean sending: one step of a tenth of the rate before the last halving (50) per interval, engine-wide.
    const rates: number[] = [];
    for (let step = 0; step < 20 && db.rows.has('google'); step++) {
      clock.t += AIMD.raiseEveryMs;
      a.take('gmail.com');
      b.take('googlemail.com');
      await tick();
      if (db.rows.has('google')) rates.push(db.rows.get('google')!.rate);
    }
    expect(rates.slice(0, 3).map(Math.round)).toEqual([30, 35, 40]);
    expect(db.rows.has('google')).toBe(false); // back at the 100/s it was sending at: left alone again
    await tick();
    expect(a.capped('gmail.com')).toBe(false);
    [a, b].forEach((e) => e.close());
  });

  it('a suspension holds one provider until its end while the others go on; a cap set by ops stays the ceiling', async () => {
    const clock = { t: 0 };
    const db = table(clock, { google: 40 });
    const engine = engineThrottle(db.source, { now: () => clock.t, providerOf: google, refreshMs: 10, raiseEveryMs: 10 });
    await engine.ready;
    expect(engine.keyOf('gmail.com')).toBe('google');
    await engine.shape('yahoo.com', { reply: '421 4.7.0 [TSS04]', cause: 'suspend for 2h (yahoo-tss04)' }, clock.t + 7_200_000);
    expect(engine.waitMs('yahoo.com')).toBe(7_200_000);
    expect(engine.waitMs('example.com')).toBe(0);
    clock.t += 7_200_000;
    expect(engine.waitMs('yahoo.com')).toBeLessThanOrEqual(50); // over: its slots are asked for again
    await engine.shape('gmail.com', reply);
    expect(db.rows.get('google')!.rate).toBe(20);
    for (let step = 0; step < 10; step++) {
      clock.t += AIMD.raiseEveryMs;
      engine.take('gmail.com');
      await tick();
    }
    expect(db.rows.get('google')!.rate).toBe(40); // raised back to ops' cap, and kept
    engine.close();
  });
});
