// Waves: their sizes add up to the messages exactly, the spec names every mistake, the scheduling check warns, and
// the status reads each wave's state and start.
import { snapshotText } from '../../client/format';
import { emptyKpis } from '../../domain/delivery';
import { parseDeliverySpec } from '../../domain/spec';
import { validateDeliverySpec } from '../../domain/spec-problems';
import { lastWaveWarning, tooManyWaves, waveSizes, waveStatuses, wavesSummary, type Waves } from '../../domain/waves';

const BASE = { name: 'W', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true } };
const waves = (w: Record<string, unknown>): Waves => {
  const parsed = parseDeliverySpec({ ...BASE, waves: w });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.spec.waves!;
};
const problems = (w: unknown) => {
  const parsed = parseDeliverySpec({ ...BASE, waves: w });
  return parsed.ok ? [] : parsed.problems;
};

describe('wave sizes', () => {
  it.each([
    [{ count: 4 }, 10, [3, 3, 2, 2]],
    [{ count: 4 }, 3, [1, 1, 1]], // fewer messages than waves: no empty wave
    [{ percent: [5, 15, 30, 50] }, 1000, [50, 150, 300, 500]],
    [{ percent: [5, 15, 30, 50] }, 7, [0, 1, 2, 4].filter((n) => n > 0)],
    [{ percent: [33.3, 33.3, 33.4] }, 100, [33, 33, 34]],
    [{ size: 10_000 }, 25_000, [10_000, 10_000, 5_000]],
    [{ size: 10 }, 10, [10]],
    [{ count: 2 }, 0, []],
  ])('%j of %d messages → %j', (w, messages, sizes) => {
    const got = waveSizes(waves({ ...w, every: '1h' }), messages);
    expect(got).toEqual(sizes);
    expect(got.reduce((a, b) => a + b, 0)).toBe(messages);
  });

  it('adds up exactly whatever the shares round to', () => {
    for (const messages of [1, 2, 99, 101, 999_983]) {
      const sizes = waveSizes(waves({ percent: [12.5, 12.5, 25, 50], every: '1h' }), messages);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(messages);
    }
  });

  it('refuses a size that would make more than 100 waves, naming the size that fits', () => {
    const w = waves({ size: 10, every: '1h' });
    expect(tooManyWaves(w, waveSizes(w, 1000))).toBeUndefined();
    expect(tooManyWaves(w, waveSizes(w, 1_000_000))).toBe('waves.size: 10 makes 100000 waves for 1000000 messages, at most 100: raise it to at least 10000');
  });
});

describe('waves in the spec', () => {
  it.each([
    [{ count: 4 }, 'waves.every: is required: how long after a wave is sent the next starts, e.g. "1h"'],
    [{ count: 4, every: 'hourly' }, 'waves.every: must be a duration such as "30s", "45m", "4h" or "2d"'],
    [{ count: 1, every: '1h' }, 'waves.count: must be at least 2 (one wave is no waves)'],
    [{ percent: [50, 40], every: '1h' }, 'waves.percent: must add up to 100 (they add up to 90)'],
    [{ percent: [100, 0], every: '1h' }, 'waves.percent.1: must be above 0'],
    [{ size: 0, every: '1h' }, 'waves.size: must be at least 1'],
    [{ every: '1h' }, 'waves: give exactly one of count, percent or size, e.g. { "count": 4, "every": "1h" }, { "percent": [5, 15, 30, 50], "every": "1h" } or { "size": 10000, "every": "1h" }'],
    [{ count: 2, size: 10, every: '1h' }, expect.stringMatching(/^waves: give exactly one of count, percent or size/)],
    [{ count: 2, every: '1h', when: 'now' }, 'waves: unknown field(s) "when"; remove them'],
  ])('%j → %s', (w, problem) => {
    expect(problems(w)).toEqual([problem]);
  });

  it('keeps "every" as written, so a parsed spec parses again', () => {
    const parsed = parseDeliverySpec({ ...BASE, waves: { count: 3, every: '90m' } });
    expect(parsed.ok && parsed.spec.waves).toEqual({ count: 3, every: '90m' });
    expect(parsed.ok && parseDeliverySpec(parsed.spec).ok).toBe(true);
  });

  it('leaves nothing to waves after an A/B test of the whole target: a problem', () => {
    const spec = {
      ...BASE, waves: { count: 2, every: '1h' }, variants: [{ name: 'A', subject: 'a' }, { name: 'B', subject: 'b' }],
      abTest: { percent: 100, winnerBy: 'clicks', decideAfter: '4h' },
    };
    const v = validateDeliverySpec(spec, new Date());
    expect(v.ok ? [] : v.problems).toContain('waves: nothing is left for them after an A/B test of 100% of the target: lower abTest.percent or remove waves');
  });
});

describe('the wave scheduling check', () => {
  const validity = 3.5 * 24 * 3600;
  it('warns when the last wave starts at or after the validity period ends', () => {
    expect(lastWaveWarning(waves({ count: 4, every: '1d' }), 4, validity)).toBeUndefined(); // 3 days < 3.5
    expect(lastWaveWarning(waves({ count: 5, every: '1d' }), 5, validity)).toBe(
      'Wave scheduling: the last of 5 waves starts at least 4 days after sending starts, at or past the validity period (3.5 days): ' +
      'its soft failures will not be retried; send fewer waves, a shorter "every", or raise validitySeconds');
  });
  it("counts an A/B test's wait before the waves", () => {
    expect(lastWaveWarning(waves({ count: 4, every: '1d' }), 4, validity, 12 * 3600_000)).toMatch(/^Wave scheduling: the last of 4 waves starts at least 3.5 days/);
  });
  it('says nothing when fewer waves remain than asked (a small target)', () => {
    expect(lastWaveWarning(waves({ count: 10, every: '1d' }), 1, validity)).toBeUndefined();
  });
});

describe('how waves read', () => {
  it('gives each wave its state, and the next one its start once the one before is sent', () => {
    const w = waves({ count: 3, every: '1h' });
    const prepared = [{ messages: 4, lastId: 10 }, { messages: 3, lastId: 20 }, { messages: 3, lastId: 30 }];
    const wave1 = { startedAt: '2026-12-10T09:00:00.000Z', sentAt: '2026-12-10T09:05:00.000Z', sentBefore: 0, sentAfter: 4 };
    const statuses = waveStatuses(prepared, { current: 2, times: [wave1] }, w, 4);
    expect(statuses).toEqual([
      { wave: 1, messages: 4, state: 'sent', startedAt: '2026-12-10T09:00:00.000Z', sentAt: '2026-12-10T09:05:00.000Z', sent: 4 },
      { wave: 2, messages: 3, state: 'waiting', startsAt: '2026-12-10T10:05:00.000Z' },
      { wave: 3, messages: 3, state: 'waiting' },
    ]);
    expect(wavesSummary(statuses)).toBe('Waves: 1 sent (4) · 2 at 2026-12-10T10:05:00.000Z (3) · 3 waiting (3)');
    // Wave 2 under way: it counts what the delivery sent since it started.
    const sending = waveStatuses(prepared, { current: 2, times: [wave1, { startedAt: '2026-12-10T10:05:00.000Z', sentBefore: 4 }] }, w, 6);
    expect(sending[1]).toEqual({ wave: 2, messages: 3, state: 'sending', startedAt: '2026-12-10T10:05:00.000Z', sent: 2 });
    expect(wavesSummary(sending)).toBe('Waves: 1 sent (4) · 2 sending (2 of 3) · 3 waiting (3)');
    expect(waveStatuses(prepared, undefined, w, 0).map((s) => s.state)).toEqual(['waiting', 'waiting', 'waiting']);
  });

  it('prints a row per wave under the KPIs in `delivery status`', () => {
    const waves = [
      { wave: 1, messages: 4, state: 'sent' as const, startedAt: '2026-12-10T09:00:00.000Z', sentAt: '2026-12-10T09:05:00.000Z', sent: 4 },
      { wave: 2, messages: 3, state: 'waiting' as const, startsAt: '2026-12-10T10:05:00.000Z' },
    ];
    const text = snapshotText({ id: 'd-1', status: { state: 'sending', waves }, kpis: emptyKpis() });
    expect(text.split('\n').slice(-4)).toEqual([
      'wave  messages  state    sent  starts                    done',
      '----  --------  -------  ----  ------------------------  ------------------------',
      '1     4         sent     4     2026-12-10T09:00:00.000Z  2026-12-10T09:05:00.000Z',
      '2     3         waiting        2026-12-10T10:05:00.000Z',
    ]);
  });
});
