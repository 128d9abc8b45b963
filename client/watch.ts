// `delivery status` and `delivery watch`: live progress bars in a terminal; where the output is not a terminal (a
// script, a log file, a pipe) bars would print nothing, so a line is written instead: on each change (`status`),
// or per delivery every interval (`watch`).
import type { Client } from '@temporalio/client';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { FINAL_STATES, type DeliveryState } from '../domain/delivery';
import { readSnapshot, type DeliverySnapshot } from './deliveries';
import { listDeliveries, type DeliveryRow } from './delivery-list';

/** States where nothing moves until someone acts (or the contact date comes). */
const WAITING: DeliveryState[] = ['prepared', 'scheduled', 'paused'];

export async function watchDelivery(client: Client, deliveryId: string, options: { everyMs?: number; untilSettled?: boolean } = {}): Promise<DeliverySnapshot> {
  const bars = new MultiBar({
    format: ' {phase} |{bar}| {value}/{total} {detail}', hideCursor: true, clearOnComplete: false, stopOnComplete: false,
  }, Presets.shades_classic);
  let preparation: SingleBar | undefined;
  let sending: SingleBar | undefined;
  let written = '';
  try {
    for (;;) {
      const s = await readSnapshot(client, deliveryId);
      const { state } = s.status;
      const k = s.kpis;
      if (!terminal()) {
        const line = `${deliveryId}: ${s.status.situation ?? state}`;
        if (line !== written) console.log(`${new Date().toISOString()} ${line}`);
        written = line;
      } else if (state === 'preparing') {
        const done = s.status.preparedSoFar ?? 0;
        preparation ??= bars.create(Math.max(done, 1), 0, { phase: 'Preparation', detail: '' });
        preparation.setTotal(Math.max(done, 1));
        preparation.update(done, { phase: 'Preparation', detail: 'recipients processed' });
      } else if (k.targeted > 0) {
        preparation ??= bars.create(k.targeted, 0, { phase: 'Preparation', detail: '' });
        preparation.setTotal(k.targeted);
        preparation.update(k.targeted, { phase: 'Preparation', detail: `to deliver ${k.toDeliver}, to exclude ${k.toExclude}` });
      }
      if (terminal() && k.toDeliver > 0 && ['sending', 'paused', 'sent', 'stopped'].includes(state)) {
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

/** `delivery watch`: one bar per running delivery of the task queue (sent + errors of to deliver), until interrupted. */
export async function watchDeliveries(client: Client, taskQueue: string, options: { everyMs?: number; rounds?: number } = {}): Promise<DeliveryRow[]> {
  const bars = new MultiBar({
    format: ' {name} |{bar}| {value}/{total} {state} sent {sent}, errors {errors}', hideCursor: true, clearOnComplete: false, stopOnComplete: false,
  }, Presets.shades_classic);
  const shown = new Map<string, SingleBar>();
  let rows: DeliveryRow[] = [];
  try {
    for (let round = 1; ; round++) {
      rows = await listDeliveries(client, { taskQueue, running: true, limit: 50 });
      if (!terminal()) {
        const at = new Date().toISOString();
        console.log(rows.length ? rows.map((r) => `${at} ${r.name || r.id} (${r.id}): ${r.state}, sent ${r.sent}, errors ${r.errors} of ${r.toDeliver ?? '?'}`).join('\n')
          : `${at} no delivery running`);
      }
      for (const r of terminal() ? rows : []) {
        const payload = { name: (r.name || r.id).slice(0, 30).padEnd(30), state: r.state.padEnd(9), sent: r.sent, errors: r.errors };
        const bar = shown.get(r.id) ?? bars.create(Math.max(r.toDeliver ?? 0, 1), 0, payload);
        shown.set(r.id, bar);
        bar.setTotal(Math.max(r.toDeliver ?? 0, 1));
        bar.update(r.sent + r.errors, payload);
      }
      if (options.rounds !== undefined && round >= options.rounds) return rows;
      await new Promise((r) => setTimeout(r, options.everyMs ?? (terminal() ? 1000 : 10_000)));
    }
  } finally {
    bars.stop();
  }
}

/** Progress bars draw only on a terminal. */
function terminal(): boolean {
  return Boolean(process.stdout.isTTY);
}
