import { attemptVerdict } from '../../domain/attempt-verdict';

describe('how a sending attempt ends', () => {
  it('retries a failed recording before believing anything else', () => {
    expect(attemptVerdict({ recordingFailure: 'disk I/O error', leaseLostBecause: 'taken', halted: true, cancelledBy: 'workflow' }))
      .toMatchObject({ end: 'retry', type: 'DatabaseUnavailable' });
  });
  it('gives up after a lost lease, even when halted', () => {
    expect(attemptVerdict({ leaseLostBecause: '3 of its messages were re-queued', halted: true })).toMatchObject({ end: 'retry', type: 'LeaseLost' });
  });
  it('ends normally when halted, whatever else stopped it (the result carries the cause)', () => {
    expect(attemptVerdict({ halted: true, relayUnavailable: 'ECONNREFUSED', cancelledBy: 'workflow' })).toEqual({ end: 'finished' });
  });
  it('retries a temporary relay fault and a worker shutdown; a pause or stop is a cancellation', () => {
    expect(attemptVerdict({ halted: false, relayUnavailable: 'ECONNREFUSED' })).toMatchObject({ end: 'retry', type: 'SmtpUnavailable', message: 'SMTP relay unavailable: ECONNREFUSED' });
    expect(attemptVerdict({ halted: false, cancelledBy: 'worker shutdown' })).toMatchObject({ end: 'retry', type: 'WorkerShutdown' });
    expect(attemptVerdict({ halted: false, cancelledBy: 'workflow' })).toEqual({ end: 'cancelled' });
    expect(attemptVerdict({ halted: false })).toEqual({ end: 'finished' });
  });
  it('retries a failed DKIM signing, even when the workflow cancelled meanwhile: its messages went back unsent', () => {
    expect(attemptVerdict({ halted: false, signingFailure: 'a DKIM signing thread stopped: exit code 1', cancelledBy: 'workflow' }))
      .toMatchObject({ end: 'retry', type: 'DkimSigningFailed', message: expect.stringContaining('never sent unsigned') });
  });
});
