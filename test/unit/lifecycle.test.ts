import { DELIVERY_STATES, emptyKpis, type DeliveryState } from '../../domain/delivery';
import { awaitsConfirm, canMove, COMMANDS, judgeCommand, kpisWithProgress, proofMissing, TRANSITIONS, type DeliveryCommand, type LifecycleStatus } from '../../domain/lifecycle';

// The whole table: every state × every command, with the facts that change a verdict (waiting for
// confirm, a proof missing, a proof list, a pause winding down, a tracking period running).
const EXPECTED: Record<DeliveryState, Record<DeliveryCommand, boolean>> = {
  preparing: { confirm: false, proof: false, pause: false, resume: false, stop: true, edit: false },
  prepared: { confirm: true, proof: true, pause: false, resume: false, stop: true, edit: true },
  scheduled: { confirm: false, proof: false, pause: false, resume: false, stop: true, edit: true },
  sending: { confirm: false, proof: false, pause: true, resume: false, stop: true, edit: false },
  paused: { confirm: false, proof: false, pause: false, resume: true, stop: true, edit: false },
  sent: { confirm: false, proof: false, pause: false, resume: false, stop: false, edit: false },
  stopped: { confirm: false, proof: false, pause: false, resume: false, stop: false, edit: false },
  failed: { confirm: false, proof: false, pause: false, resume: false, stop: false, edit: false },
  terminated: { confirm: false, proof: false, pause: false, resume: false, stop: false, edit: false },
};

describe('the lifecycle: which command applies in which state', () => {
  const cases = DELIVERY_STATES.flatMap((state) => COMMANDS.map((command) => [state, command] as const));

  it.each(cases)('%s × %s', (state, command) => {
    const status: LifecycleStatus = { state, ...(state === 'prepared' ? { awaitingConfirm: true, proofList: true } : {}) };
    const verdict = judgeCommand(command, status);
    expect(verdict.ok).toBe(EXPECTED[state][command]);
    // A refusal reads after "the delivery is": the state first, then the rule.
    if (!verdict.ok) expect(verdict.reason).toMatch(new RegExp(`^${state}[ ;]`));
  });

  it('confirm needs a delivery waiting for approval, and the proof of its current content when one is required', () => {
    expect(judgeCommand('confirm', { state: 'prepared' })).toEqual({ ok: false, reason: 'prepared and does not wait for approval; confirm applies to a prepared delivery waiting for approval' });
    expect(judgeCommand('confirm', { state: 'prepared', awaitingConfirm: true, proofMissing: true }))
      .toEqual({ ok: false, reason: 'prepared; a proof of the current content is required first: send one with the proof command' });
  });

  it('proof needs a proof list; pause is refused while a pause winds down, when resume applies', () => {
    expect(judgeCommand('proof', { state: 'prepared' })).toMatchObject({ ok: false, reason: expect.stringContaining('no proof list (proof.to)') });
    expect(judgeCommand('pause', { state: 'sending', pausing: true })).toEqual({ ok: false, reason: 'sending and already pausing; pause applies while sending' });
    expect(judgeCommand('resume', { state: 'sending', pausing: true })).toEqual({ ok: true });
  });

  it('stop ends the tracking period of a sent delivery, and nothing once it is over', () => {
    expect(judgeCommand('stop', { state: 'sent', trackingUntil: '2026-12-01T00:00:00.000Z' })).toEqual({ ok: true });
    expect(judgeCommand('stop', { state: 'sent' }).ok).toBe(false);
  });
});

describe('the lifecycle: moves between states', () => {
  it('ends in sent, stopped, failed or terminated, which lead nowhere; every other state can be stopped', () => {
    for (const state of DELIVERY_STATES) {
      const final = ['sent', 'stopped', 'failed', 'terminated'].includes(state);
      expect(TRANSITIONS[state].length === 0).toBe(final);
      if (!final) expect(TRANSITIONS[state]).toContain('stopped');
    }
  });

  it('allows only the listed moves (staying put is not a move)', () => {
    for (const from of DELIVERY_STATES) {
      for (const to of DELIVERY_STATES) expect(canMove(from, to)).toBe(from === to || TRANSITIONS[from].includes(to));
    }
    expect(canMove('sending', 'prepared')).toBe(false);
    expect(canMove('sent', 'sending')).toBe(false);
    expect(canMove('scheduled', 'preparing')).toBe(true); // an edit prepares again
  });
});

describe('the lifecycle: approval, proofs and progress', () => {
  it('waits for confirm on manual approval, semi with warnings, or a required proof', () => {
    const clean = { warnings: [] };
    const warned = { warnings: ['a link has no text'] };
    expect(awaitsConfirm({ approval: 'auto' }, warned)).toBe(false);
    expect(awaitsConfirm({ approval: 'semi' }, clean)).toBe(false);
    expect(awaitsConfirm({ approval: 'semi' }, warned)).toBe(true);
    expect(awaitsConfirm({ approval: 'manual' }, clean)).toBe(true);
    expect(awaitsConfirm({ approval: 'auto', proof: { to: ['qa@x.example'], required: true } }, clean)).toBe(true);
  });

  it('a required proof is missing until one shows the current content version', () => {
    const spec = { proof: { to: ['qa@x.example'], required: true } };
    expect(proofMissing(spec, 0, undefined)).toBe(true);
    expect(proofMissing(spec, 0, 0)).toBe(false);
    expect(proofMissing(spec, 1, 0)).toBe(true); // edited since
    expect(proofMissing({ proof: { to: ['qa@x.example'] } }, 1, undefined)).toBe(false);
  });

  it('merges progress: sending totals while sending or paused, feedback and tracking at any time', () => {
    const k = { ...emptyKpis(), toDeliver: 10, pending: 10 };
    const sending = { phase: 'sending' as const, sent: 4, delivered: 4, failed: 1, possibleDuplicates: 0, excludedAtSend: 0 };
    expect(kpisWithProgress(k, sending, 'sending')).toMatchObject({ sent: 4, failed: 1, pending: 5 });
    expect(kpisWithProgress(k, sending, 'stopped')).toBe(k); // a late report from a stopped attempt changes nothing
    expect(kpisWithProgress(k, { ...sending, phase: 'feedback' }, 'sent')).toMatchObject({ sent: 4 });
    const tracking = { phase: 'tracking' as const, opens: 2, totalOpens: 3, clicks: 1, totalClicks: 1, unsubscriptions: 0, mirrorPageViews: 0, clicksByLink: {} };
    expect(kpisWithProgress({ ...k, delivered: 4 }, tracking, 'sent')).toMatchObject({ opens: 2, openRate: 50 });
    expect(kpisWithProgress(k, { phase: 'preparation', processed: 5 }, 'preparing')).toBe(k);
  });
});
