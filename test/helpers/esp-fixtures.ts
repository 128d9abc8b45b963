// The ESPs' documented example payloads (Amazon SES notification examples, SendGrid's event examples, Mailgun's
// webhook samples, Postmark's webhook examples), with the message they name swapped for one of ours, and what each
// provider does to sign them: SNS's certificate (a local HTTPS stub serving it as sns.us-east-1.amazonaws.com),
// SendGrid's ECDSA key, Mailgun's signing key, Postmark's basic auth.
import { createHmac, createSign, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { snsStringToSign, type SnsMessage } from '../../domain/esp-signatures';

export const SNS_HOST = 'sns.us-east-1.amazonaws.com';
export const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:ses-events';

/** SES's bounce notification example, about `messageId` sent to `email`. */
export function sesBounce(messageId: string, email: string) {
  return {
    notificationType: 'Bounce',
    bounce: {
      bounceType: 'Permanent', bounceSubType: 'General', reportingMTA: 'dns; email.example.com', timestamp: '2016-01-27T14:59:38.237Z',
      feedbackId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000', remoteMtaIp: '127.0.2.0',
      bouncedRecipients: [{ emailAddress: email, status: '5.1.1', action: 'failed', diagnosticCode: `smtp; 550 5.1.1 <${email}>... User unknown` }],
    },
    mail: sesMail(messageId, email),
  };
}

/** SES's complaint notification example. */
export function sesComplaint(messageId: string, email: string) {
  return {
    notificationType: 'Complaint',
    complaint: {
      userAgent: 'AnyCompany Feedback Loop (V0.01)', complainedRecipients: [{ emailAddress: email }], complaintFeedbackType: 'abuse',
      arrivalDate: '2016-01-27T14:59:38.237Z', timestamp: '2016-01-27T14:59:38.237Z', feedbackId: '000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000',
    },
    mail: sesMail(messageId, email),
  };
}

function sesMail(messageId: string, email: string) {
  return {
    timestamp: '2016-01-27T14:59:38.237Z', source: 'news@shop.example', sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/shop.example',
    sourceIp: '127.0.3.0', sendingAccountId: '123456789012', messageId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000',
    destination: [email], headersTruncated: false,
    headers: [{ name: 'From', value: 'Shop <news@shop.example>' }, { name: 'To', value: email }, { name: 'Message-ID', value: messageId }, { name: 'Subject', value: 'Hello' }],
    commonHeaders: { from: ['Shop <news@shop.example>'], to: [email], messageId, subject: 'Hello' },
  };
}

/** SendGrid's bounce and spam report event examples. */
export function sendgridEvents(bounce: { messageId: string; email: string }, spam: { ref: string; email: string }, timestamp: number) {
  return [
    { email: bounce.email, timestamp, 'smtp-id': bounce.messageId, event: 'bounce', category: 'cat facts', sg_event_id: '6g4ZI7SA-xmRDv57GoPIPw==',
      sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0', reason: '550 5.1.1 unknown recipient', status: '5.1.1', type: 'bounce' },
    // A spam report carries no smtp-id: the unique arg we set (X-SMTPAPI) names the message.
    { email: spam.email, timestamp, event: 'spamreport', sg_event_id: '6g4ZI7SA-xmRDv57GoPIPx==', sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.1', 'delivery-ref': spam.ref },
  ];
}

/** Mailgun's "failed" (permanent) and "complained" webhook samples. */
export function mailgunEvent(kind: 'failed' | 'complained', messageId: string, email: string, signature: object) {
  return {
    signature,
    'event-data': {
      event: kind, id: randomBytes(11).toString('base64url'), timestamp: Date.now() / 1000, 'log-level': kind === 'failed' ? 'error' : 'warn',
      ...(kind === 'failed' ? { severity: 'permanent', reason: 'bounce', 'delivery-status': { 'attempt-no': 1, message: '5.1.1 The email account that you tried to reach does not exist', code: 550, description: '' } } : {}),
      recipient: email, message: { headers: { to: email, 'message-id': messageId.replace(/^<|>$/g, ''), from: 'Shop <news@shop.example>', subject: 'Hello' }, attachments: [], size: 111 },
      'user-variables': {}, flags: { 'is-routed': false, 'is-authenticated': true, 'is-system-test': false, 'is-test-mode': false },
    },
  };
}

/** Postmark's Bounce and SpamComplaint webhook examples, with the metadata our tag header sets. */
export function postmarkRecord(kind: 'Bounce' | 'SpamComplaint', ref: string, email: string) {
  return {
    RecordType: kind, MessageStream: 'outbound', ID: 4323372036854775807, Type: kind === 'Bounce' ? 'HardBounce' : 'SpamComplaint',
    TypeCode: kind === 'Bounce' ? 1 : 512, Name: kind === 'Bounce' ? 'Hard bounce' : 'Spam complaint', Tag: 'Test',
    MessageID: '883953f4-6105-42a2-a16a-77a8eac79483', Metadata: { 'delivery-ref': ref }, ServerID: 23,
    Description: kind === 'Bounce' ? 'The server was unable to deliver your message (ex: unknown user, mailbox not found).' : '',
    Details: kind === 'Bounce' ? 'smtp;550 5.1.1 The email account that you tried to reach does not exist' : 'Test spam complaint details',
    Email: email, From: 'news@shop.example', BouncedAt: new Date().toISOString(), DumpAvailable: true, Inactive: true, CanActivate: true, Subject: 'Hello',
  };
}

export function mailgunSignature(signingKey: string, timestamp = Math.floor(Date.now() / 1000)) {
  const token = randomBytes(25).toString('hex');
  return { timestamp: String(timestamp), token, signature: createHmac('sha256', signingKey).update(`${timestamp}${token}`).digest('hex') };
}

export function sendgridKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    sign: (timestamp: string, body: string) => sign('sha256', Buffer.from(timestamp + body), privateKey).toString('base64'),
  };
}

/** A stand-in for sns.us-east-1.amazonaws.com: serves the signing certificate and answers subscription confirmations. */
export async function startSnsStub() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sns-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    '-days', '2', '-subj', `/CN=${SNS_HOST}`, '-addext', `subjectAltName=DNS:${SNS_HOST}`], { stdio: 'ignore' });
  const key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
  const cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  const confirmations: string[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    if (req.url === '/SimpleNotificationService-test.pem') return res.end(cert);
    if (req.url?.startsWith('/?Action=ConfirmSubscription')) {
      confirmations.push(req.url);
      return res.end('<ConfirmSubscriptionResponse/>');
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const certUrl = `https://${SNS_HOST}/SimpleNotificationService-test.pem`;
  return {
    port, ca: cert, confirmations,
    /** An SNS message of this type, signed as SNS signs it (version 1: SHA1, 2: SHA256). */
    message(type: 'Notification' | 'SubscriptionConfirmation', body: string, options: { version?: '1' | '2'; timestamp?: Date; certUrl?: string } = {}): SnsMessage {
      const m: SnsMessage = {
        Type: type, MessageId: `${randomBytes(8).toString('hex')}-sns`, TopicArn: TOPIC_ARN, Message: body,
        Timestamp: (options.timestamp ?? new Date()).toISOString(), SignatureVersion: options.version ?? '2', Signature: '', SigningCertURL: options.certUrl ?? certUrl,
        ...(type === 'SubscriptionConfirmation'
          ? { Token: randomBytes(16).toString('hex'), SubscribeURL: `https://${SNS_HOST}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(TOPIC_ARN)}&Token=t` }
          : { Subject: 'Amazon SES Email Event Notification' }),
      };
      m.Signature = createSign(m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256').update(snsStringToSign(m)).sign(key, 'base64');
      return m;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
