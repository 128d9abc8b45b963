// Waves: what is left to send goes out in slices (PreparationResult.waves), each on a durable timer `every` after the
// previous one was sent. A wave's first pass ends it (its soft failures retry with the next waves); the last wave
// sends whatever is left, retries included. Pause between waves holds the next one; stop cancels the rest.
import { everyMs } from '../domain/waves';
import { log, showDetails, type DeliveryContext } from './context';
import { sendStep } from './local-time';
import type { Activities } from './phases';
import { waitForPlan } from './plan-wait';

/** Sends what is left: in waves when the spec has them, else at once. `opening`: the first log line of the sending. */
export async function sendTheRest(ctx: DeliveryContext, acts: Activities, opening?: string): Promise<void> {
  const prepared = ctx.spec.waves ? ctx.preparation?.waves ?? [] : [];
  if (prepared.length === 0) return sendStep(ctx, acts, 'all', opening ? { opening } : {});
  ctx.waves ??= { current: 1, times: [] };
  const state = ctx.waves;
  const count = prepared.length;
  for (; state.current <= count; state.current++) {
    const i = state.current - 1;
    const wave = prepared[i];
    const label = `wave ${state.current} of ${count} (${wave.messages} messages)`;
    let starts = false; // a run continued as new goes on with the wave it was sending, without a second opening line
    if (!state.times[i]?.startedAt) {
      const previous = state.times[i - 1]?.sentAt;
      if (previous) await waitForPlan(ctx, label, Date.parse(previous) + everyMs(ctx.spec.waves!), `Waves: ${label} starts`);
      state.times[i] = { startedAt: new Date().toISOString(), sentBefore: ctx.kpis.sent };
      starts = true;
    }
    const first = starts ? `${i === 0 && opening ? `${opening}: ` : 'Sending '}${label}` : undefined;
    const last = state.current === count;
    await sendStep(ctx, acts, `wave ${state.current}`, {
      ...(last ? {} : { upToId: wave.lastId, firstPassOnly: true }), ...(first ? { opening: first } : {}),
    });
    Object.assign(state.times[i], { sentAt: new Date().toISOString(), sentAfter: ctx.kpis.sent });
    if (!last) {
      const next = new Date(Date.now() + everyMs(ctx.spec.waves!)).toISOString();
      log(ctx, 'info', `Wave ${state.current} of ${count} sent (${ctx.kpis.sent} sent so far); wave ${state.current + 1} starts at ${next}`);
    }
    showDetails(ctx);
  }
}
