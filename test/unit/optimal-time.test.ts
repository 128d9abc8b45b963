// The best hour per recipient: their own hour when they have a clear one, the audience's when they have little
// history, none (the default time) without history; hours of the week in UTC. Then the lift over the holdout.
import { snapshotText } from '../../client/format';
import { reportText } from '../../client/report/text';
import { emptyKpis } from '../../domain/delivery';
import { audiencePattern, bestHour, emptyHistory, hourOfWeek, HOURS_OF_WEEK } from '../../domain/optimal-time';
import { reportBuilder } from '../../domain/report';
import { validateDeliverySpec } from '../../domain/spec-problems';

const history = (events: Array<[day: number, hour: number, n: number]>) => {
  const h = emptyHistory();
  for (const [day, hour, n] of events) h[day * 24 + hour] += n;
  return h;
};
// Thursday 10 December 2026, 09:00 UTC: hour of the week 3 × 24 + 9.
const START = new Date('2026-12-10T09:00:00Z');

describe('the best hour per recipient', () => {
  it('counts hours of the week from Monday 00:00 UTC', () => {
    expect(hourOfWeek(new Date('2026-12-07T00:00:00Z'))).toBe(0); // a Monday
    expect(hourOfWeek(START)).toBe(3 * 24 + 9);
    expect(hourOfWeek(new Date('2026-12-13T23:59:59Z'))).toBe(HOURS_OF_WEEK - 1); // Sunday night
  });

  it("takes a recipient's own hour when their history is clear", () => {
    const pattern = audiencePattern([history([[3, 12, 50]])]); // the audience reads at Thursday noon
    // This one reads on Thursdays at 18:00 UTC, eight times: 9 hours after the start.
    expect(bestHour(history([[3, 18, 8]]), pattern, START)).toBe(9);
  });

  it("pulls a thin history toward the audience's hour", () => {
    const pattern = audiencePattern([history([[3, 12, 100]]), history([[3, 18, 1]])]);
    // One open at 18:00 weighs 1 against 5 × 0.99 of the audience's at noon.
    expect(bestHour(history([[3, 18, 1]]), pattern, START)).toBe(3);
    // Ten opens at 18:00 outweigh it.
    expect(bestHour(history([[3, 18, 10]]), pattern, START)).toBe(9);
  });

  it('leaves a recipient without history at the default time, and wraps into the next day', () => {
    const pattern = audiencePattern([]);
    expect(Array.from(pattern).every((p) => p === 1 / HOURS_OF_WEEK)).toBe(true);
    expect(bestHour(emptyHistory(), pattern, START)).toBeUndefined();
    // Friday 07:00 UTC is 22 hours after Thursday 09:00.
    expect(bestHour(history([[4, 7, 3]]), pattern, START)).toBe(22);
    // Hours outside the 24 h window (Monday) cannot be chosen: the earliest of equal hours is.
    expect(bestHour(history([[0, 7, 3]]), pattern, START)).toBe(0);
  });
});

describe('the lift of the best time over its holdout (delivery report)', () => {
  it('counts each class and compares all but the holdout with it', () => {
    const b = reportBuilder('d-1', 'Best time');
    const sent = (id: number, sendTimeClass: string) => ({ id, email: `u${id}@x.example`, status: 'sent', failureType: null, reason: null, sentAt: START, sendTimeClass });
    // 10 optimal (6 open, 2 click), 10 default (2 open), 10 holdout (2 open, 1 click).
    b.addRecipients([...Array.from({ length: 10 }, (_, i) => sent(i, 'optimal')), ...Array.from({ length: 10 }, (_, i) => sent(10 + i, 'default')),
      ...Array.from({ length: 10 }, (_, i) => sent(20 + i, 'holdout'))]);
    const open = (id: number) => ({ sendingLogId: id, kind: 'open', at: START });
    b.addEvents([0, 1, 2, 3, 4, 5, 10, 11, 20, 21, 0].map(open)); // a second open counts once
    b.addEvents([0, 1, 20].map((id) => ({ sendingLogId: id, kind: 'click', at: START })));
    const { sendTime } = b.build(new Date(0));
    expect(sendTime?.classes).toEqual([
      { class: 'optimal', delivered: 10, opened: 6, clicked: 2 },
      { class: 'default', delivered: 10, opened: 2, clicked: 0 },
      { class: 'holdout', delivered: 10, opened: 2, clicked: 1 },
      { class: 'timed', delivered: 20, opened: 8, clicked: 2 },
    ]);
    // Opens: 40% against 20%; clicks: 10% against 10%.
    expect(sendTime?.lift).toEqual({ opens: 100, clicks: 0 });
    expect(reportText(b.build(new Date(0)))).toContain('Lift over the holdout: opens +100%, clicks 0%');
  });

  it('titles the groups of a best-time plan as such in `delivery status`', () => {
    const groups = [{ group: 1, at: '2026-12-10T12:00:00.000Z', offsets: [], zones: 0, messages: 8, state: 'waiting' as const }];
    const text = snapshotText({ id: 'd-3', status: { state: 'sending', localTime: { step: 'all', groups } }, kpis: emptyKpis() });
    expect(text).toContain('Best time (all):');
    expect(text).not.toContain('Local time');
  });

  it('has no send-time section without the best time', () => {
    const b = reportBuilder('d-2', 'Plain');
    b.addRecipients([{ id: 1, email: 'a@x.example', status: 'sent', failureType: null, reason: null, sentAt: START }]);
    expect(b.build(new Date(0)).sendTime).toBeUndefined();
  });
});

describe('the best time in the spec', () => {
  const BASE = { name: 'B', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true }, scheduleAt: '2026-12-10T09:00:00Z' };
  const problems = (spec: Record<string, unknown>) => {
    const v = validateDeliverySpec({ ...BASE, ...spec }, new Date('2026-12-01T00:00:00Z'));
    return v.ok ? [] : v.problems;
  };
  it('takes "optimal" with a 10% holdout by default', () => {
    const v = validateDeliverySpec({ ...BASE, sendTime: 'optimal' }, new Date('2026-12-01T00:00:00Z'));
    expect(v.ok && [v.spec.sendTime, v.spec.sendTimeHoldout]).toEqual(['optimal', 10]);
  });
  it.each([
    [{ sendTime: 'best' }, 'sendTime: must be "optimal": each recipient at their best hour within the 24 h from scheduleAt'],
    [{ sendTime: 'optimal', sendTimeHoldout: 60 }, 'sendTimeHoldout: must be at most 50 (a share of the target: 10 is 10%)'],
    [{ sendTime: 'optimal', timeZone: 'recipient', scheduleAt: '2026-12-10T09:00:00' },
      'sendTime: "optimal" chooses each recipient\'s own hour, and "timeZone": "recipient" a local hour: keep one of them'],
  ])('%j → %s', (spec, problem) => {
    expect(problems(spec)).toEqual([problem]);
  });
});
