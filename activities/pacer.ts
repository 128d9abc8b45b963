// Spaces message starts to honour a delivery's messagesPerSecond cap.
import { setTimeout as sleep } from 'node:timers/promises';

/** A wait before the next message, or nothing to wait for (no promise: one per message costs at full speed). */
export type Pacer = () => Promise<void> | undefined;

export function pacer(messagesPerSecond: number | undefined): Pacer {
  if (!messagesPerSecond) return () => undefined;
  const interval = 1000 / messagesPerSecond;
  let next = Date.now();
  return () => {
    const now = Date.now();
    next = Math.max(next, now - interval); // no catching up after a pause in the loop
    const wait = next - now;
    next += interval;
    return wait > 1 ? sleep(wait) : undefined;
  };
}
