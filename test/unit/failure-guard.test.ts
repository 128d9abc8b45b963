import { describeTrip, failureGuard } from '../../domain/failure-guard';

describe('the failure-rate guard', () => {
  it('trips on the message that takes the hard failures of a full window above the threshold', () => {
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 100 });
    const trips = [];
    for (let i = 0; i < 100; i++) {
      // 10% exactly is allowed; the 11th hard failure in the window crosses it
      const trip = guard.add(i < 11 && i % 2 === 0 ? 'user unknown' : i < 11 ? 'invalid domain' : undefined);
      if (trip) trips.push({ at: i, trip });
    }
    expect(trips).toHaveLength(1);
    expect(trips[0].at).toBe(99); // judged once the window is full
    expect(trips[0].trip).toEqual({ hard: 11, window: 100, threshold: 0.1, reasons: [['user unknown', 6], ['invalid domain', 5]] });
  });

  it('does not trip at the threshold, and forgets failures that leave the window', () => {
    const guard = failureGuard({ maxHardFailureRate: 0.1, window: 10 });
    expect(guard.add('user unknown')).toBeUndefined(); // 1 of 10: at the threshold
    for (let i = 0; i < 9; i++) expect(guard.add(undefined)).toBeUndefined();
    expect(guard.add('user unknown')).toBeUndefined(); // the first failure left the window: still 1 in 10
    expect(guard.add('refused')?.hard).toBe(2);
  });

  it('never judges a delivery smaller than its window, and can be turned off', () => {
    const small = failureGuard({ maxHardFailureRate: 0.1, window: 1000 });
    for (let i = 0; i < 999; i++) expect(small.add('user unknown')).toBeUndefined();
    const off = failureGuard(false);
    for (let i = 0; i < 5000; i++) expect(off.add('user unknown')).toBeUndefined();
  });

  it('names the rate, the threshold, the top reasons and what to do', () => {
    const text = describeTrip({ hard: 30, window: 100, threshold: 0.1, reasons: [['user unknown', 28], ['refused', 2]] });
    expect(text).toBe('hard failures reached 30.0% of the last 100 messages, above the guard\'s 10% (user unknown 28, refused 2): ' +
      'check the list and the relay\'s replies (delivery logs <id> --recipients --status failed), then resume or stop the delivery');
  });
});
