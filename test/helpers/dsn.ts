import nodemailer from 'nodemailer';

/** A delivery status notification as a relay would send it (RFC 3464 multipart/report). */
export function dsn(o: { to: string; recipient: string; action: 'failed' | 'delayed'; status: string; diagnostic: string; originalMessageId: string }): string {
  return [
    'From: MAILER-DAEMON@relay.example', `To: ${o.to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;', ' boundary="dsn-boundary"', '',
    '--dsn-boundary', 'Content-Type: text/plain', '', 'Your message could not be delivered.', '',
    '--dsn-boundary', 'Content-Type: message/delivery-status', '',
    'Reporting-MTA: dns; relay.example', '',
    `Final-Recipient: rfc822; ${o.recipient}`, `Action: ${o.action}`, `Status: ${o.status}`, `Diagnostic-Code: smtp; ${o.diagnostic}`, '',
    '--dsn-boundary', 'Content-Type: text/rfc822-headers', '',
    `Message-ID: ${o.originalMessageId}`, 'Subject: Hello', '',
    '--dsn-boundary--', '',
  ].join('\r\n');
}

/** Hands a raw message to an SMTP server on loopback, as the relay would. */
export async function sendRaw(port: number, envelope: { from: string; to: string }, raw: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail({ envelope, raw });
  } finally {
    transport.close();
  }
}
