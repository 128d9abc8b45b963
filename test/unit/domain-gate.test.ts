import { domainGate } from '../../activities/domain-gate';

describe('per-domain caps', () => {
  it('space the messages of a capped domain and leave other domains alone', () => {
    let now = 0;
    const gate = domainGate({ 'gmail.com': { messagesPerSecond: 10 } }, 1, () => now);
    expect(gate.tryAcquire('gmail.com')).toBe(true);
    gate.release('gmail.com');
    expect(gate.tryAcquire('gmail.com')).toBe(false); // 10 a second: the next one in 100 ms
    expect(gate.waitMs('gmail.com')).toBe(100);
    expect(gate.tryAcquire('example.org')).toBe(true);
    now += 100;
    expect(gate.tryAcquire('gmail.com')).toBe(true);
    expect(gate.intervalMs('gmail.com')).toBe(100);
  });

  it('hold messages past the connection cap until one ends, and share caps between parallel senders', () => {
    const gate = domainGate({ 'slow.example': { connections: 4, messagesPerSecond: 1000 } }, 2, () => 0);
    expect(gate.tryAcquire('slow.example')).toBe(true);
    expect(gate.tryAcquire('slow.example')).toBe(false); // 1000/s shared by 2: one every 2 ms
    const later = domainGate({ 'slow.example': { connections: 4 } }, 2);
    expect([later.tryAcquire('slow.example'), later.tryAcquire('slow.example'), later.tryAcquire('slow.example')]).toEqual([true, true, false]);
    expect(later.waitMs('slow.example')).toBe(Infinity);
    later.release('slow.example');
    expect(later.tryAcquire('slow.example')).toBe(true);
  });
});
