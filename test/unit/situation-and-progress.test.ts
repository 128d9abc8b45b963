// What ops read first (the situation in words), and how thin the progress channel keeps a delivery's history.
import type { Context } from '@temporalio/activity';
import { emptyKpis, type Kpis } from '../../domain/delivery';
import { isProgressReport } from '../../domain/lifecycle';
import { codeSpan, duration, situation, specFacts, type SituationFacts } from '../../domain/situation';
import { firstSignalAfterMs, signalIntervalMs, startProgress } from '../../activities/progress';

const kpis = (k: Partial<Kpis>): Kpis => ({ ...emptyKpis(), ...k });
const facts = (f: Partial<SituationFacts>): SituationFacts => ({ state: 'sending', kpis: emptyKpis(), approval: 'auto', now: Date.parse('2026-11-23T10:00:00Z'), ...f });

describe('the situation of a delivery, in words', () => {
  it('says what it waits for, how far it is and how it ended', () => {
    expect(situation(facts({ state: 'preparing', preparedSoFar: 1200 }))).toBe('Preparing: 1200 recipients processed');
    expect(situation(facts({ state: 'prepared', approval: 'manual', awaitingConfirm: true, kpis: kpis({ toDeliver: 912 }) })))
      .toBe('Waiting for confirm (manual approval); 912 to deliver');
    expect(situation(facts({ state: 'prepared', approval: 'auto', awaitingConfirm: true, proofMissing: true, kpis: kpis({ toDeliver: 3 }) })))
      .toBe('Waiting for confirm (a proof is required): send a proof first; 3 to deliver');
    expect(situation(facts({ state: 'scheduled', contactDate: '2026-12-01T09:00:00.000Z', kpis: kpis({ toDeliver: 3 }) })))
      .toBe('Scheduled: sending starts at 2026-12-01T09:00:00.000Z; 3 to deliver');
    expect(situation(facts({ state: 'paused', pausedBecause: 'the relay refused our credentials: fix SMTP_URL', kpis: kpis({ toDeliver: 10, sent: 4, delivered: 4 }) })))
      .toBe('Paused by the engine: the relay refused our credentials: fix SMTP_URL (4 / 10 (40.0%)); resume to go on');
    expect(situation(facts({ state: 'stopped', kpis: kpis({ toDeliver: 912, sent: 733, delivered: 733, cancelled: 179 }) }))).toBe('Stopped: 733 sent, 179 cancelled');
    expect(situation(facts({ state: 'sent', trackingUntil: '2026-11-24T10:00:00.000Z' }))).toBe('Sent; collecting opens and clicks until 2026-11-24T10:00:00.000Z');
    expect(situation(facts({ state: 'sent', trackingUntil: '2026-11-22T10:00:00.000Z' }))).toBe('Sent');
    expect(situation(facts({ state: 'terminated', error: 'run r1 terminated at 2026-11-23T09:59:00.000Z', kpis: kpis({ sent: 5, delivered: 5, cancelled: 35 }) })))
      .toBe('Terminated in Temporal (run r1 terminated at 2026-11-23T09:59:00.000Z): 5 sent, 35 cancelled and never sent');
  });

  it('measures the rate of the round in flight and the time left', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    // 682 of 912 with an outcome (one bounced later counts once), 600 of them in the last 300 s: 2.0 msg/s, 115 s left.
    const k = kpis({ toDeliver: 912, sent: 680, delivered: 679, failed: 3 });
    expect(situation(facts({ kpis: k, sendingSince: { at: now - 300_000, done: 82 }, now }))).toBe('Sending 682 / 912 (74.8%) at 2.0 msg/s, ETA 2 min');
    expect(situation(facts({ kpis: k, pausing: true, sendingSince: { at: now - 300_000, done: 82 }, now }))).toBe('Pausing 682 / 912 (74.8%)');
    // Between rounds, only soft failures left: the situation says what it waits for, not a stale rate.
    expect(situation(facts({ kpis: { ...k, pending: 11 }, retryAt: '2026-11-23T10:15:00.000Z', sendingSince: { at: now - 300_000, done: 82 }, now })))
      .toBe('Waiting to retry 11 soft failure(s) at 2026-11-23T10:15:00.000Z (682 / 912 (74.8%))');
    expect(situation(facts({ kpis: k, now }))).toBe('Sending 682 / 912 (74.8%)'); // no rate yet
    expect([duration(0.2), duration(45), duration(150), duration(7500)]).toEqual(['1 s', '45 s', '3 min', '2 h 5 min']);
  });
});

describe('the progress channel', () => {
  it('takes only reports of the right shape (anyone can send a signal by name)', () => {
    expect(isProgressReport({ phase: 'preparation', processed: 10 })).toBe(true);
    expect(isProgressReport({ phase: 'sending', sent: 1, delivered: 1, failed: 0, possibleDuplicates: 0, excludedAtSend: 0 })).toBe(true);
    expect(isProgressReport({ phase: 'sending', sent: 'lots' })).toBe(false);
    expect(isProgressReport({ phase: 'tracking', opens: 1, totalOpens: 1, clicks: 0, totalClicks: 0, unsubscriptions: 0, mirrorPageViews: 0 })).toBe(false);
    expect(isProgressReport({ phase: 'launch' })).toBe(false);
    expect(isProgressReport(null)).toBe(false);
  });

  it('signals a 10-minute sending fewer than 200 times (about 95), while heartbeats stay every second', async () => {
    jest.useFakeTimers();
    try {
      let heartbeats = 0;
      let signals = 0;
      let sent = 0;
      const ctx = { info: { workflowExecution: { workflowId: 'd' } }, heartbeat: () => heartbeats++ } as unknown as Context;
      const ticker = startProgress(ctx, () => ({ phase: 'sending', sent: sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, cursor: sent }), async () => {
        signals++;
      });
      for (let s = 0; s < 600; s++) {
        sent += 2; // 2 msg/s: the counts move every second
        await jest.advanceTimersByTimeAsync(1000);
      }
      await ticker.stop({ signal: true });
      expect(heartbeats).toBeGreaterThanOrEqual(600);
      expect(signals).toBeLessThan(200);
      expect(signals).toBeGreaterThan(50); // KPIs still move: at most 30 s old
    } finally {
      jest.useRealTimers();
    }
  });

  it("paces a later attempt by the delivery's sending time: a local-time group sent in 3 s signals nothing, a long one every 30 s", async () => {
    expect(firstSignalAfterMs(10_000, 9_000, 1000)).toBe(0); // the delivery's first attempt: the KPIs move at once
    expect(firstSignalAfterMs(3_600_000, 0, 1000)).toBe(5000);
    expect(signalIntervalMs(60_000, 1000)).toBe(5000);
    expect(signalIntervalMs(3_600_000, 1000)).toBe(30_000);
    jest.useFakeTimers();
    try {
      const ctx = { info: { workflowExecution: { workflowId: 'd' } }, heartbeat: () => undefined } as unknown as Context;
      const sendFor = async (seconds: number, since: Date) => {
        let signals = 0;
        let sent = 0;
        const ticker = startProgress(ctx, () => ({ phase: 'sending', sent, delivered: sent, failed: 0, possibleDuplicates: 0, excludedAtSend: 0, cursor: sent }), async () => {
          signals++;
        }, 1000, since);
        for (let s = 0; s < seconds; s++) {
          sent += 5000;
          await jest.advanceTimersByTimeAsync(1000);
        }
        await ticker.stop();
        return signals;
      };
      const hourAgo = () => new Date(Date.now() - 3600_000);
      expect(await sendFor(3, new Date())).toBe(1); // the first attempt: at its first heartbeat, then 5 s apart
      expect(await sendFor(3, hourAgo())).toBe(0);
      expect(await sendFor(120, hourAgo())).toBe(4); // at 5 s, 35 s, 65 s, 95 s
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('what the delivery is, in the Web UI details', () => {
  it('shows the audience as code: straight quotes that paste back as JSON', () => {
    const facts = specFacts({ subject: 'Hi', audience: { where: { segment: 'pro-uk' } }, approval: 'automatic' });
    const line = facts.find((f) => f.startsWith('**Audience:**'))!;
    expect(line).toBe('**Audience:** profiles where `{"segment":"pro-uk"}`');
    expect(JSON.parse(/`(.*)`/.exec(line)![1])).toEqual({ segment: 'pro-uk' });
  });
  it('fences text holding backticks with more of them', () => {
    expect(codeSpan('a`b')).toBe('`` a`b ``');
    expect(codeSpan('plain')).toBe('`plain`');
  });
});
