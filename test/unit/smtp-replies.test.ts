// Who a reply is about, from real relays' and providers' replies (their documentation, Postfix's and Exim's
// sources, published bounce texts): the recipient, the relay, or the sender.
import { qualifyReply, REPLY_RULES, withoutAddresses, type ReplyContext, type ReplyParty } from '../../domain/smtp-replies';
import { judgeSmtpError } from '../../domain/smtp-faults';
import { qualifyBounce } from '../../domain/dsn';

type Case = [source: string, code: number, reply: string, party: ReplyParty, reason?: RegExp];

/** Replies our relay gives in the SMTP session (RCPT TO, end of data). */
const SESSION: Case[] = [
  ['Postfix, no relay permission', 554, '554 5.7.1 <ann@customer.example>: Relay access denied', 'relay', /^the relay does not relay for us/],
  ['Postfix, smtpd_delay_reject: client restriction at RCPT', 554, '554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied', 'relay', /^the sending host is refused/],
  ['Postfix, no reverse name', 450, '450 4.7.1 Client host rejected: cannot find your hostname, [203.0.113.9]', 'relay', /^the sending host is refused/],
  ['Postfix, HELO restriction', 504, '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname', 'relay', /^the sending host is refused/],
  ['Postfix, sender restriction at RCPT', 553, '553 5.7.1 <news@shop.example>: Sender address rejected: not owned by user shop', 'relay', /^the sender address is refused/],
  ['Postfix, sender domain unknown', 450, '450 4.1.8 <news@shop.example>: Sender address rejected: Domain not found', 'relay', /^the sender address is refused/],
  ['Postfix, queue disk full', 452, '452 4.3.1 Insufficient system storage', 'relay', /^the relay failed/],
  ['Postfix, lookup table down', 451, '451 4.3.0 <ann@customer.example>: Temporary lookup failure', 'relay', /^the relay failed/],
  ['Postfix, too many recipients', 452, '452 4.5.3 Error: too many recipients', 'relay', /^the relay limits our sending/],
  ['a relay rate limit', 451, '451 4.7.1 rate exceeded, slow down', 'relay', /^the relay limits our sending/],
  ['Postfix, TLS required', 530, '530 5.7.0 Must issue a STARTTLS command first', 'relay', /^the relay requires authentication/],
  ['a relay demanding TLS', 554, '554 5.7.10 Encryption required for requested authentication mechanism', 'relay', /^the relay requires TLS/],
  ['Exim, no relay', 550, '550 relay not permitted', 'relay', /^the relay does not relay for us/],
  ['Exim, authentication', 550, '550 Authentication required', 'relay', /^the relay requires authentication/],
  ['Sendmail, relaying denied', 550, '550 5.7.1 <ann@customer.example>... Relaying denied', 'relay', /^the relay does not relay for us/],
  ['Microsoft 365, relay', 550, '550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain', 'relay', /^the relay does not relay for us/],
  ['Microsoft 365, anonymous', 530, '530 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139', 'relay', /^the relay requires authentication/],
  ['Microsoft 365, client not authenticated', 550, '550 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM', 'relay', /^the relay requires authentication/],
  ['Amazon SES, identity not verified', 554, '554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: news@shop.example', 'relay', /^the sender address is refused/],
  ['Amazon SES, rate', 454, '454 Throttling failure: Maximum sending rate exceeded.', 'relay', /^the relay limits our sending/],
  ['Amazon SES, daily quota', 554, '554 Throttling failure: Daily message quota exceeded.', 'relay', /^the relay limits our sending/],
  ['SendGrid, credits', 550, '550 Unauthenticated senders not allowed', 'sender', /^sender not authenticated/],
  ['a relay content filter', 554, '554 5.7.1 Message rejected as spam by Content Filtering', 'sender', /^refused as spam/],
  ['Gmail, unauthenticated (a relay that is Google)', 550, '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked.', 'sender', /^sender not authenticated/],
  ['Gmail, DMARC', 550, '550 5.7.26 Unauthenticated email from shop.example is not accepted due to domain\'s DMARC policy.', 'sender', /^sender not authenticated/],
  ['the recipient unknown (Postfix)', 550, '550 5.1.1 <ann@customer.example>: Recipient address rejected: User unknown in virtual mailbox table', 'recipient'],
  ['the recipient unknown (Exim)', 550, '550 Unrouteable address', 'recipient'],
  ['a mailbox full', 452, '452 4.2.2 <ann@customer.example>: Mailbox full', 'recipient'],
  ['a mailbox over quota, no enhanced code', 452, '452 Mailbox quota exceeded', 'recipient'],
  ['Gmail, a mailbox receiving too fast', 450, '450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.', 'recipient'],
  ['Lotus Domino, user unknown', 550, '550 5.1.1 User not listed in Domino Directory', 'recipient'],
  ['Postfix, recipient access denied', 554, '554 5.7.1 <ann@customer.example>: Recipient address rejected: Access denied', 'recipient'],
  ['an invalid domain', 450, '450 4.1.2 <ann@nowhere.example>: Recipient address rejected: Domain not found', 'recipient'],
];

/** What servers further on say in DSNs. */
const DSN: Case[] = [
  ['Gmail, unauthenticated', 550, '5.7.26 550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users', 'sender', /^sender not authenticated/],
  ['Microsoft, DMARC', 550, '5.7.509 550 5.7.509 Access denied, sending domain shop.example does not pass DMARC verification and has a DMARC policy of reject.', 'sender', /^sender not authenticated/],
  ['an SPF failure', 550, '5.7.23 550 5.7.23 The message was rejected because of Sender Policy Framework violation', 'sender', /^sender not authenticated/],
  ['Yahoo, policy', 554, '5.7.9 554 5.7.9 Message not accepted for policy reasons.', 'sender', /^refused as spam/],
  ['Yahoo, complaints', 553, '5.7.2 553 5.7.2 [TSS09] All messages from 203.0.113.9 will be permanently deferred; Retrying will NOT succeed.', 'sender', /^refused as spam/],
  ['Gmail, unsolicited', 550, '5.7.1 550-5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address.', 'sender', /^refused as spam/],
  ['a blocklist at the recipient', 554, '5.7.1 554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org', 'sender', /^the sending host is refused/],
  ['Microsoft, banned IP', 550, '5.7.606 550 5.7.606 Access denied, banned sending IP [203.0.113.9]', 'sender', /^the sending host is refused/],
  ['too large for the recipient', 552, '5.3.4 552 5.3.4 Message size exceeds fixed limit', 'sender', /^the message is too large/],
  ['user unknown', 550, '5.1.1 550 5.1.1 The email account that you tried to reach does not exist.', 'recipient'],
  ['mailbox full', 552, '5.2.2 552 5.2.2 The email account that you tried to reach is over quota.', 'recipient'],
];

describe('who an SMTP reply is about (REPLY_RULES)', () => {
  const check = (context: ReplyContext) => ([, code, reply, party, reason]: Case) => {
    const verdict = qualifyReply(code, reply, context);
    expect(verdict.party).toBe(party);
    if (reason) expect(verdict.reason).toMatch(reason);
    if (party !== 'recipient') expect(verdict.fix).toMatch(/then resume the delivery$/);
  };
  it.each(SESSION)('in the session, %s: %#', (...c) => check('session')(c));
  it.each(DSN)('in a DSN, %s: %#', (...c) => check('dsn')(c));

  it('a relay refusal at RCPT TO gives the message back and names no recipient in its cause', () => {
    const v = judgeSmtpError({ step: 'rcpt to', code: 554, text: '554 5.7.1 <ann@customer.example>: Relay access denied' });
    expect(v).toEqual({
      charge: 'relay', fault: {
        permanent: true, cause: 'the relay does not relay for us (554 5.7.1 <address>: Relay access denied)',
        fix: 'allow this host to relay (Postfix: mynetworks, or authenticate: set the user and password in SMTP_URL), then resume the delivery',
      },
    });
    expect(judgeSmtpError({ step: 'rcpt to', code: 452, text: '452 4.3.1 Insufficient system storage' })).toMatchObject({ charge: 'relay', fault: { permanent: false } });
  });

  it('a refusal for the sender is not the address\'s: type ignored, retried when temporary', () => {
    expect(judgeSmtpError({ step: 'end of data', code: 550, text: '550 5.7.26 This mail is unauthenticated' }))
      .toEqual({ charge: 'sender', temporary: false, failure: { type: 'ignored', reason: 'sender not authenticated (550 5.7.26 This mail is unauthenticated)' } });
    expect(judgeSmtpError({ step: 'rcpt to', code: 451, text: '451 4.7.26 DMARC temporary error' })).toMatchObject({ charge: 'sender', temporary: true });
  });

  it('a DSN refusing the sender fails the message, not the address', () => {
    expect(qualifyBounce({ finalRecipient: 'ann@customer.example', action: 'failed', status: '5.7.26', diagnostic: 'smtp; 550 5.7.26 unauthenticated' }))
      .toEqual({ kind: 'hard', party: 'sender', failure: { type: 'ignored', reason: 'sender not authenticated (5.7.26 smtp; 550 5.7.26 unauthenticated)' } });
    expect(qualifyBounce({ finalRecipient: 'ann@customer.example', action: 'failed', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 no such user' }))
      .toMatchObject({ kind: 'hard', party: 'recipient', failure: { type: 'hard', reason: expect.stringMatching(/^user unknown/) } });
  });

  it('hides addresses that relays quote', () => {
    expect(withoutAddresses('554 5.7.1 <Ann.Lee@Customer.example>: Relay access denied (sender news@shop.example)')).toBe('554 5.7.1 <address>: Relay access denied (sender <address>)');
  });

  it('every rule that is not the recipient\'s says what to do', () => {
    for (const rule of REPLY_RULES) if (rule.party !== 'recipient') expect(rule.fix).toBeTruthy();
  });
});
