// What the tracking server records: events buffered and written in batches (a failed write keeps them for the
// next), the same event of one recipient counted once a minute, and each delivery's tracking totals signalled to
// its workflow at most every `signalEveryMs`, read from the database when the signal goes.
import type { Client } from '@temporalio/client';
import { trackingCounts } from '../domain/delivery';
import { deliveryMessages, type DeliveryMessages, type TrackingSetup } from '../domain/message';
import type { Database } from '../store/prisma';
import { loadDelivery } from '../store/deliveries';
import { trackingEvents, type NewTrackingEvent } from '../store/tracking-events';
import { messageContents } from '../domain/sending-plan';
import { abTallies } from '../store/ab-tallies';
import { progressSignals } from '../temporal/progress-signals';

/** Events waiting to be written beyond this are refused (the server answers 503): memory stays bounded under a flood. */
const MAX_BUFFERED_EVENTS = 200_000;
/** The same event of one recipient (and link) counts once in this window. */
const REPEAT_WINDOW_MS = 60_000;
const WRITE_CHUNK = 5000;

export interface TrackedDelivery {
  messages: DeliveryMessages;
  /** With an A/B test, each variant's (its own links, its own mirror page). */
  variants?: Map<string, DeliveryMessages>;
  /** Some variant has its own html (its links numbered apart). */
  ownLinks?: boolean;
  /** The list its unsubscribe link leaves (none: every message of ours). */
  unsubscribeFrom?: string;
}

export type TrackingRecording = ReturnType<typeof trackingRecording>;

export function trackingRecording(db: Database, tracking: TrackingSetup, options: { client?: Client; signalEveryMs?: number; flushEveryMs?: number }) {
  const events = trackingEvents(db);
  let buffered: NewTrackingEvent[] = [];
  let writing: Promise<void> = Promise.resolve();
  // Each delivery's tracking totals reach its workflow at most every signalEveryMs, and again once Temporal is back.
  const signals = progressSignals(options.client, options.signalEveryMs ?? 10_000);
  const deliveries = new Map<string, TrackedDelivery & { at: number }>();
  // Repeats of one event (a mail client reloading its pixel, a scanner, a script) count once a minute.
  const counted = new Map<string, number>();
  const forgetRepeats = setInterval(() => {
    const before = Date.now() - REPEAT_WINDOW_MS;
    for (const [key, at] of counted) if (at < before) counted.delete(key);
  }, REPEAT_WINDOW_MS);
  const flushTimer = setInterval(() => void flush(), options.flushEveryMs ?? 200);

  function record(event: Omit<NewTrackingEvent, 'at'>): boolean {
    if (buffered.length >= MAX_BUFFERED_EVENTS) return false;
    buffered.push({ ...event, at: new Date() });
    return true;
  }

  function flush(): Promise<void> {
    writing = writing.then(async () => {
      const chunk = buffered;
      buffered = [];
      for (let i = 0; i < chunk.length; i += WRITE_CHUNK) {
        const part = chunk.slice(i, i + WRITE_CHUNK);
        try {
          await events.record(part);
        } catch (e) {
          buffered = [...chunk.slice(i), ...buffered]; // written whole or not at all: kept for the next flush
          throw e;
        }
        for (const deliveryId of new Set(part.map((e) => e.deliveryId))) signalSoon(deliveryId);
      }
    }).catch((e) => console.error(`tracking: events not written yet (kept, retried at the next flush): ${(e as Error).message}`));
    return writing;
  }

  /** The delivery's tracking totals, read from the database when the signal goes. Events are stored whether Temporal answers or not. */
  function signalSoon(deliveryId: string) {
    signals.soon(deliveryId, async () => {
      const tracked = await delivery(deliveryId);
      const messages = tracked?.messages;
      const { tallies, clickers } = await events.tallies(deliveryId);
      const variants = tracked?.variants ? { variants: await abTallies(db).trackingByVariant(deliveryId) } : {};
      // Variants with their own html number their links each: a link id is then a place ("link 2"), not one URL.
      const linkUrl = (id: number) => (tracked?.ownLinks ? undefined : messages?.links.find((l) => l.id === id)?.source);
      return { phase: 'tracking', ...trackingCounts(tallies, clickers, linkUrl), ...variants };
    });
  }

  /** A delivery's templates with tracking, from its stored spec (cached for a minute). */
  async function delivery(deliveryId: string): Promise<TrackedDelivery | undefined> {
    const cached = deliveries.get(deliveryId);
    if (cached && Date.now() - cached.at < 60_000) return cached;
    const stored = await loadDelivery(db, deliveryId);
    if (!stored) return undefined;
    const { unsubscribeFrom } = stored.spec;
    const { spec } = stored;
    const entry = {
      messages: deliveryMessages(deliveryId, spec, tracking),
      ...(spec.variants ? { variants: new Map(messageContents(spec).map(({ variant, content }) => [variant!, deliveryMessages(deliveryId, content, tracking)])) } : {}),
      ...(spec.variants?.some((v) => v.html !== undefined) ? { ownLinks: true } : {}),
      unsubscribeFrom: unsubscribeFrom === 'everything' ? undefined : unsubscribeFrom.list, at: Date.now(),
    };
    if (deliveries.size > 1000) deliveries.clear();
    deliveries.set(deliveryId, entry);
    return entry;
  }

  return {
    /** Records one event without the bound on repeats (volume tests and tools); false when the buffer is full. */
    record,
    /** What a tracking request records: the same event (kind, recipient, link) counts once a minute; repeats are answered, not counted. */
    request(event: Omit<NewTrackingEvent, 'at'>): boolean {
      // A machine's fetch (a privacy proxy at delivery) does not hide the reader's own open that follows.
      const key = `${event.kind}|${event.deliveryId}|${event.sendingLogId}|${event.linkId}|${event.machine === true}`;
      const now = Date.now();
      if (now - (counted.get(key) ?? -Infinity) < REPEAT_WINDOW_MS) return true;
      if (!record(event)) return false;
      if (counted.size < MAX_BUFFERED_EVENTS) counted.set(key, now);
      return true;
    },
    flush,
    delivery,
    recipient: events.recipient.bind(events),
    optOut: events.optOut.bind(events),
    async close(): Promise<void> {
      clearInterval(flushTimer);
      clearInterval(forgetRepeats);
      await flush();
      await signals.close();
    },
  };
}
