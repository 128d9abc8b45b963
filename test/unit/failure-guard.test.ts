import { describeTrip, failureGuard, MIN_SAMPLE, wilsonLowerBound } from '../../domain/failure-guard';
import { seeded as random } from '../helpers/random';

describe('the failure-rate guard', () => {
  it('trips on the message that takes the failures of a full window above the threshold, when they are spread out', () => {
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 100 });
    const trips = [];
    for (let i = 0; i < 100; i++) {
      // 11 failures, one every 9 messages: 10% exactly is allowed, the 11th in the window crosses it
      const trip = guard.add(i % 9 === 0 && i <= 90 ? (i % 2 === 0 ? 'user unknown' : 'invalid domain') : undefined);
      if (trip) trips.push({ at: i, trip });
    }
    expect(trips).toHaveLength(1);
    expect(trips[0].at).toBe(99); // judged once the window is full: too few failures for the small-sample test before
    expect(trips[0].trip).toEqual({ hard: 11, window: 100, threshold: 0.1, test: 'window', reasons: [['user unknown', 6], ['invalid domain', 5]] });
  });

  it('does not trip at the threshold, and forgets failures that leave the window', () => {
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 10 });
    expect(guard.add('user unknown')).toBeUndefined(); // 1 of 10: at the threshold
    for (let i = 0; i < 9; i++) expect(guard.add(undefined)).toBeUndefined();
    expect(guard.add('user unknown')).toBeUndefined(); // the first failure left the window: still 1 in 10
    expect(guard.add('refused')?.hard).toBe(2);
  });

  it(`pauses a delivery of any size whose first ${MIN_SAMPLE} messages all failed for the same reason`, () => {
    const guard = failureGuard({ maxHardFailureRate: 0.9, window: 1000 }); // a threshold the rate tests would never reach
    for (let i = 1; i < MIN_SAMPLE; i++) expect(guard.add('user unknown')).toBeUndefined();
    expect(guard.add('user unknown')).toEqual({ hard: MIN_SAMPLE, window: MIN_SAMPLE, threshold: 0.9, test: 'streak', reasons: [['user unknown', MIN_SAMPLE]] });
    // Two reasons, or a success among them, is no streak.
    const mixed = failureGuard({ maxHardFailureRate: 0.9, window: 1000 });
    for (let i = 0; i < 100; i++) expect(mixed.add(i === 7 ? undefined : 'user unknown')).toBeUndefined();
  });

  it('judges small samples by the Wilson lower bound: 30% of failures trip within the first 50 messages of a 1,000 window', () => {
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 1000 });
    let at = -1;
    for (let i = 0; i < 1000 && at < 0; i++) if (guard.add(i % 10 < 3 ? 'user unknown' : undefined)) at = i;
    expect(at).toBeGreaterThanOrEqual(MIN_SAMPLE - 1);
    expect(at).toBeLessThan(50);
  });

  it('never trips on an honest list: 5% of failures at random over 100,000 messages, a 10% threshold', () => {
    const next = random(42);
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 1000 });
    let trips = 0;
    for (let i = 0; i < 100_000; i++) if (guard.add(next() < 0.05 ? 'user unknown' : undefined)) trips++;
    expect(trips).toBe(0);
  });

  it('turns a judged success into a failure when its bounce comes back, and trips on them', () => {
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 1000 });
    for (let i = 0; i < 30; i++) expect(guard.add(undefined)).toBeUndefined();
    let amended = 0;
    let trip;
    while (!trip && amended < 30) {
      trip = guard.amend('sender not authenticated');
      amended++;
    }
    expect(amended).toBeLessThanOrEqual(10);
    expect(trip).toMatchObject({ test: 'sample', window: 30, hard: amended, reasons: [['sender not authenticated', amended]] });
    expect(describeTrip(trip!)).toContain('publish SPF, DKIM and DMARC');
    // A window without successes left has nothing to amend.
    const allFailed = failureGuard({ maxHardFailureRate: 0.9, window: 10 });
    for (let i = 0; i < 10; i++) allFailed.add(i % 2 ? 'refused' : 'user unknown');
    expect(allFailed.amend('refused')).toBeUndefined();
  });

  it('never judges anything when turned off', () => {
    const off = failureGuard(false);
    for (let i = 0; i < 5000; i++) expect(off.add('user unknown')).toBeUndefined();
    expect(off.amend('user unknown')).toBeUndefined();
  });

  it('computes the Wilson lower bound', () => {
    expect(wilsonLowerBound(0, 0, 3)).toBe(0);
    expect(wilsonLowerBound(20, 20, 3)).toBeCloseTo(20 / 29, 10); // all failed: n / (n + z²)
    expect(wilsonLowerBound(50, 100, 1.96)).toBeCloseTo(0.4038, 3); // the textbook value
  });

  it('names the rate, the threshold, the top reasons and what to do', () => {
    expect(describeTrip({ hard: 30, window: 100, threshold: 0.1, test: 'window', reasons: [['user unknown', 28], ['refused', 2]] }))
      .toBe('failures reached 30.0% of the last 100 messages, above the guard\'s 10% (user unknown 28, refused 2): ' +
        'check the list and the relay\'s replies (delivery logs <id> --recipients --status failed), then resume or stop the delivery');
    expect(describeTrip({ hard: 20, window: 20, threshold: 0.1, test: 'streak', reasons: [['sender not authenticated', 20]] }))
      .toMatch(/^the first 20 messages all failed \(sender not authenticated 20\): the receiving servers refuse the sender; publish SPF, DKIM and DMARC/);
  });
});
