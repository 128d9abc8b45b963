// The attempt's messages in flight: waiting for one to settle, and a send that throws stopping the attempt.
import { InFlight } from '../../activities/sending/in-flight';

const later = <T>(ms: number, value: T, fail = false) => new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(value) : resolve(value)), ms));

describe('messages in flight', () => {
  it('wakes the waiter when the first of them settles, and forgets it', async () => {
    const inFlight = new InFlight();
    inFlight.add(later(200, undefined), () => undefined);
    inFlight.add(later(20, undefined), () => undefined);
    await inFlight.oneSettled();
    expect(inFlight.size).toBe(1); // the slow one is still in flight
    await inFlight.all();
    expect(inFlight.size).toBe(0);
  });

  it('a send that throws calls onError at once, and all() throws it once every other send settled', async () => {
    const inFlight = new InFlight();
    let stopped = 0;
    let slowDone = false;
    inFlight.add(later(10, new Error('bug in compose'), true) as Promise<never>, () => stopped++);
    inFlight.add(later(100, undefined).then(() => void (slowDone = true)), () => stopped++);
    await inFlight.oneSettled();
    expect(stopped).toBe(1);
    await expect(inFlight.all()).rejects.toThrow('bug in compose');
    expect(slowDone).toBe(true);
  });
});
