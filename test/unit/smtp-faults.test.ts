import { describeRelayFault, judgeSmtpError, type SmtpError } from '../../domain/smtp-faults';

const judge = (e: SmtpError) => judgeSmtpError(e);

describe('who is at fault when SMTP fails', () => {
  it('charges the recipient only for replies to RCPT TO and end-of-data replies about the message', () => {
    expect(judge({ step: 'rcpt to', code: 550, text: '550 5.1.1 <x@y.example>: user unknown' }))
      .toEqual({ charge: 'recipient', failure: { type: 'hard', reason: 'user unknown (550 5.1.1 <x@y.example>: user unknown)' } });
    expect(judge({ step: 'rcpt to', code: 452, text: '452 4.2.2 mailbox full' }))
      .toEqual({ charge: 'recipient', failure: { type: 'soft', reason: 'mailbox full (452 4.2.2 mailbox full)' } });
    expect(judge({ step: 'end of data', code: 554, text: '554 5.7.1 message refused' }))
      .toEqual({ charge: 'recipient', failure: { type: 'hard', reason: 'refused (554 5.7.1 message refused)' } });
    // Refused as spam is about the content, the sender's: not the address's (smtp-replies.test.ts has the table).
    expect(judge({ step: 'end of data', code: 554, text: '554 5.7.1 message refused as spam' }))
      .toEqual({ charge: 'sender', temporary: false, failure: { type: 'ignored', reason: 'refused as spam (554 5.7.1 message refused as spam)' } });
    expect(judge({ step: 'rcpt to', text: 'Invalid recipient "x@"' })).toMatchObject({ charge: 'recipient', failure: { type: 'hard' } });
  });

  it.each<[string, SmtpError, string, string]>([
    ['AUTH refused', { step: 'auth', code: 535, text: '535 5.7.8 Authentication credentials invalid' }, 'the relay refused our credentials (535 5.7.8 Authentication credentials invalid)', 'SMTP_URL'],
    ['AUTH required', { step: 'mail from', code: 530, text: '530 5.7.0 Authentication required' }, 'the relay requires authentication (530 5.7.0 Authentication required)', 'SMTP_URL'],
    ['return path refused', { step: 'mail from', code: 553, text: '553 5.1.8 sender refused' }, 'the relay refused our return path (553 5.1.8 sender refused)', 'BOUNCE_DOMAIN'],
    ['greeting 554', { step: 'greeting', code: 554, text: '554 5.7.1 no access' }, 'the relay refuses our connections (554 5.7.1 no access)', 'allow list'],
    ['certificate refused', { step: 'tls', text: 'certificate has expired' }, "the relay's TLS certificate was refused (certificate has expired)", 'NODE_EXTRA_CA_CERTS'],
    ['STARTTLS refused', { step: 'tls', code: 502, text: '502 5.5.1 STARTTLS not available' }, 'the relay cannot start TLS (502 5.5.1 STARTTLS not available)', 'TLS'],
    ['EHLO refused', { step: 'ehlo', code: 550, text: '550 go away' }, 'the relay refused our EHLO (550 go away)', 'host name'],
    ['DATA refused', { step: 'data', code: 554, text: '554 5.5.1 no valid recipients' }, 'the relay refused the DATA command (554 5.5.1 no valid recipients)', 'logs'],
    ['message too large', { step: 'end of data', code: 552, text: '552 5.3.4 message too big' }, 'the message is too large (552 5.3.4 message too big)', 'smaller'],
    ['over the SIZE limit', { step: 'mail from', text: 'Message size larger than allowed 1000' }, 'the message is larger than the relay accepts (Message size larger than allowed 1000)', 'smaller'],
  ])('%s: the relay, permanent (the delivery halts with the cause and the fix)', (_name, error, cause, fixMentions) => {
    const verdict = judge(error);
    expect(verdict.charge).toBe('relay');
    if (verdict.charge !== 'relay') return;
    expect(verdict.fault).toMatchObject({ permanent: true, cause });
    expect(verdict.fault.fix).toContain(fixMentions);
    expect(describeRelayFault(verdict.fault)).toMatch(/: .*then resume the delivery$/);
  });

  it.each<[string, SmtpError]>([
    ['greeting 421', { step: 'greeting', code: 421, text: '421 4.3.2 busy' }],
    ['421 to RCPT TO (a relay closing the channel)', { step: 'rcpt to', code: 421, text: '421 4.7.0 try again later, closing connection' }],
    ['421 at the end of data', { step: 'end of data', code: 421, text: '421 4.4.2 timeout' }],
    ['connection refused', { step: 'connection', text: 'connect ECONNREFUSED 127.0.0.1:25' }],
    ['connection reset before the content went out', { step: 'connection', text: 'Connection closed unexpectedly', contentSent: false }],
    ['TLS handshake reset', { step: 'tls', text: 'Client network socket disconnected before secure TLS connection was established' }],
    ['AUTH temporarily failing', { step: 'auth', code: 454, text: '454 4.7.0 Temporary authentication failure' }],
    ['MAIL FROM deferred', { step: 'mail from', code: 451, text: '451 4.3.0 try later' }],
    ['mail system error at the end of data', { step: 'end of data', code: 451, text: '451 4.3.0 queue file write error' }],
  ])('%s: the relay, temporary (given back unsent, retried with backoff)', (_name, error) => {
    expect(judge(error)).toMatchObject({ charge: 'relay', fault: { permanent: false } });
  });

  it('a connection lost after the content went out: nobody knows, retried and counted as a possible duplicate', () => {
    expect(judge({ step: 'connection', text: 'Connection closed unexpectedly', contentSent: true })).toEqual({
      charge: 'nobody', failure: { type: 'soft', reason: 'unreachable (connection lost after the message was sent: Connection closed unexpectedly)' },
    });
  });
});
