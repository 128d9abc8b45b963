// Spaces message starts to honour a delivery's messagesPerSecond cap.
import { setTimeout as sleep } from 'node:timers/promises';

export type Pacer = () => Promise<void>;

export function pacer(messagesPerSecond: number | undefined): Pacer {
  if (!messagesPerSecond) return async () => undefined;
  const interval = 1000 / messagesPerSecond;
  let next = Date.now();
  return async () => {
    const now = Date.now();
    next = Math.max(next, now - interval); // no catching up after a pause in the loop
    const wait = next - now;
    next += interval;
    if (wait > 1) await sleep(wait);
  };
}
