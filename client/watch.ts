// `delivery status`: live progress bars for preparation and sending until the delivery settles.
import type { Client } from '@temporalio/client';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { FINAL_STATES, type DeliveryState } from '../domain/delivery';
import { readSnapshot, type DeliverySnapshot } from './deliveries';

/** States where nothing moves until someone acts (or the contact date comes). */
const WAITING: DeliveryState[] = ['prepared', 'scheduled', 'paused'];

export async function watchDelivery(client: Client, deliveryId: string, options: { everyMs?: number; untilSettled?: boolean } = {}): Promise<DeliverySnapshot> {
  const bars = new MultiBar({
    format: ' {phase} |{bar}| {value}/{total} {detail}', hideCursor: true, clearOnComplete: false, stopOnComplete: false,
  }, Presets.shades_classic);
  let preparation: SingleBar | undefined;
  let sending: SingleBar | undefined;
  try {
    for (;;) {
      const s = await readSnapshot(client, deliveryId);
      const { state } = s.status;
      const k = s.kpis;
      if (state === 'preparing') {
        const done = s.status.preparedSoFar ?? 0;
        preparation ??= bars.create(Math.max(done, 1), 0, { phase: 'Preparation', detail: '' });
        preparation.setTotal(Math.max(done, 1));
        preparation.update(done, { phase: 'Preparation', detail: 'recipients processed' });
      } else if (k.targeted > 0) {
        preparation ??= bars.create(k.targeted, 0, { phase: 'Preparation', detail: '' });
        preparation.setTotal(k.targeted);
        preparation.update(k.targeted, { phase: 'Preparation', detail: `to deliver ${k.toDeliver}, to exclude ${k.toExclude}` });
      }
      if (k.toDeliver > 0 && ['sending', 'paused', 'sent', 'stopped'].includes(state)) {
        sending ??= bars.create(k.toDeliver, 0, { phase: 'Sending    ', detail: '' });
        sending.setTotal(k.toDeliver);
        sending.update(k.sent + k.failed, { phase: 'Sending    ', detail: `sent ${k.sent}, errors ${k.failed}, ${state}` });
      }
      if (FINAL_STATES.includes(state) || (options.untilSettled !== false && WAITING.includes(state))) return s;
      await new Promise((r) => setTimeout(r, options.everyMs ?? 500));
    }
  } finally {
    bars.stop();
  }
}
