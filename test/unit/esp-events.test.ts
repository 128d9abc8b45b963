// The ESPs' payloads brought to one shape, and the headers that tag our messages for them.
import { espTagHeaders, mailgunEvents, postmarkEvents, sendgridEvents, sesEvents } from '../../domain/esp-events';
import { qualifyBounce } from '../../domain/dsn';
import { isSnsUrl } from '../../domain/esp-signatures';
import { postmarkRecord, sesBounce, sesComplaint } from '../helpers/esp-fixtures';

const MID = '<12.0123456789abcdef01234567@shop.example>';

describe('ESP events', () => {
  it('SES: a permanent bounce per recipient, qualified like an SMTP reply; complaints, but not a not-spam report', () => {
    const [bounce] = sesEvents(sesBounce(MID, 'a@x.example'));
    expect(bounce).toMatchObject({ kind: 'bounce', messageIds: [MID], recipient: 'a@x.example', bounce: { action: 'failed', status: '5.1.1' } });
    expect(qualifyBounce({ finalRecipient: 'a@x.example', ...bounce.bounce! })).toMatchObject({ kind: 'hard', party: 'recipient' });
    expect(sesEvents(sesComplaint(MID, 'a@x.example'))).toEqual([{ kind: 'complaint', messageIds: [MID], recipient: 'a@x.example' }]);
    const notSpam = sesComplaint(MID, 'a@x.example');
    notSpam.complaint.complaintFeedbackType = 'not-spam';
    expect(sesEvents(notSpam)).toEqual([]);
    const transient = sesBounce(MID, 'a@x.example');
    transient.bounce.bounceType = 'Transient';
    expect(sesEvents(transient)[0].bounce).toMatchObject({ action: 'delayed' });
  });

  it('SendGrid, Mailgun, Postmark: their event names, our tag first, a refusal for the sender stays the sender\'s', () => {
    expect(sendgridEvents([{ event: 'deferred', email: 'a@x.example', 'smtp-id': MID, response: '421 4.7.0 try later' }])[0])
      .toMatchObject({ kind: 'bounce', bounce: { action: 'delayed', status: '4.7.0' } });
    expect(sendgridEvents([{ event: 'group_unsubscribe', email: 'a@x.example', 'delivery-ref': MID }])[0]).toMatchObject({ kind: 'unsubscribe', messageIds: [MID] });
    const dmarc = sendgridEvents([{ event: 'bounce', email: 'a@x.example', 'smtp-id': MID, status: '5.7.26', reason: "550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy" }])[0];
    expect(qualifyBounce({ finalRecipient: 'a@x.example', ...dmarc.bounce! })).toMatchObject({ party: 'sender', failure: { type: 'ignored' } });
    expect(mailgunEvents({ 'event-data': { event: 'failed', severity: 'temporary', recipient: 'a@x.example', message: { headers: { 'message-id': MID.slice(1, -1) } }, 'delivery-status': { code: 452, message: '4.2.2 mailbox full' } } })[0])
      .toMatchObject({ kind: 'bounce', messageIds: [MID], bounce: { action: 'delayed', status: '4.2.2', diagnostic: '452 4.2.2 mailbox full' } });
    expect(mailgunEvents({ 'event-data': { event: 'unsubscribed', recipient: 'a@x.example', 'user-variables': { 'delivery-ref': MID } } })[0]).toMatchObject({ kind: 'unsubscribe', messageIds: [MID] });
    expect(postmarkEvents(postmarkRecord('Bounce', MID, 'a@x.example'))[0]).toMatchObject({ kind: 'bounce', bounce: { action: 'failed', status: '5.1.1' } });
    expect(postmarkEvents({ RecordType: 'SubscriptionChange', Recipient: 'a@x.example', SuppressSending: true, SuppressionReason: 'ManualSuppression', Metadata: { 'delivery-ref': MID } })[0]).toMatchObject({ kind: 'unsubscribe' });
    expect(postmarkEvents({ RecordType: 'SubscriptionChange', SuppressSending: false })[0]).toMatchObject({ kind: 'other' });
    expect(postmarkEvents({ RecordType: 'Open' })[0].kind).toBe('other');
    expect(sendgridEvents('not an array')).toEqual([]);
  });

  it('tags each message for the ESP its relay is, nothing for the others', () => {
    expect(espTagHeaders('sendgrid', MID)).toEqual({ 'X-SMTPAPI': JSON.stringify({ unique_args: { 'delivery-ref': MID } }) });
    expect(espTagHeaders('mailgun', MID)).toEqual({ 'X-Mailgun-Variables': JSON.stringify({ 'delivery-ref': MID }) });
    expect(espTagHeaders('postmark', MID)).toEqual({ 'X-PM-Metadata-delivery-ref': MID });
    expect(espTagHeaders('ses', MID)).toEqual({});
    expect(espTagHeaders(undefined, MID)).toEqual({});
  });

  it('follows SNS URLs on sns.<region>.amazonaws.com over https only', () => {
    expect(isSnsUrl('https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem', 'certificate')).toBe(true);
    expect(isSnsUrl('https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem', 'certificate')).toBe(true);
    for (const bad of ['http://sns.eu-west-1.amazonaws.com/x.pem', 'https://sns.eu-west-1.amazonaws.com.evil.example/x.pem', 'https://evil.example/sns.eu-west-1.amazonaws.com/x.pem',
      'https://sns.eu-west-1.amazonaws.com:8443/x.pem', 'https://sns.eu-west-1.amazonaws.com/x.txt', 'not a url', undefined]) {
      expect(isSnsUrl(bad, 'certificate')).toBe(false);
    }
  });
});
