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

/**
 * Hands many raw messages to an SMTP server, `atOnce` sessions at a time (an attacker does not wait for each reply;
 * smtp-server holds each greeting 100 ms): how many it refused with a 5xx.
 */
export async function sendManyRaw(port: number, messages: Array<{ envelope: { from: string; to: string }; raw: string }>, atOnce = 10): Promise<number> {
  let refused = 0;
  let next = 0;
  const session = async (): Promise<void> => {
    for (let i = next++; i < messages.length; i = next++) {
      await sendRaw(port, messages[i].envelope, messages[i].raw)
        .catch((e: { responseCode?: number }) => (e.responseCode && e.responseCode >= 500 ? refused++ : undefined));
    }
  };
  await Promise.all(Array.from({ length: atOnce }, session));
  return refused;
}

/**
 * A feedback-loop report (ARF, RFC 5965 §3 and its appendix B sample) as a mailbox provider's FBL sends it: the
 * machine-readable part and the reported message's headers (as the relay received them) enclosed.
 */
export function arf(o: { to: string; feedbackType?: string; originalMailFrom?: string; originalRcptTo: string; originalHeaders: string }): string {
  return [
    'From: <abusedesk@mailbox.example>', `To: <${o.to}>`, 'Subject: FW: Hello', 'MIME-Version: 1.0', `Date: ${new Date().toUTCString()}`,
    'Message-ID: <433689.81121.example@mailbox.example>',
    'Content-Type: multipart/report; report-type=feedback-report;', ' boundary="part1_13d.2e68ed54_boundary"', '',
    '--part1_13d.2e68ed54_boundary', 'Content-Type: text/plain; charset="US-ASCII"', 'Content-Transfer-Encoding: 7bit', '',
    'This is an email abuse report for an email message received from IP 192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.',
    'For more information about this format please see http://www.mipassoc.org/arf/.', '',
    '--part1_13d.2e68ed54_boundary', 'Content-Type: message/feedback-report', '',
    `Feedback-Type: ${o.feedbackType ?? 'abuse'}`, 'User-Agent: SomeGenerator/1.0', 'Version: 1',
    ...(o.originalMailFrom ? [`Original-Mail-From: <${o.originalMailFrom}>`] : []),
    `Original-Rcpt-To: <${o.originalRcptTo}>`, 'Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT', 'Reporting-MTA: dns; mail.mailbox.example',
    'Source-IP: 192.0.2.1', '',
    '--part1_13d.2e68ed54_boundary', 'Content-Type: text/rfc822-headers', '',
    o.originalHeaders.trimEnd(), '',
    '--part1_13d.2e68ed54_boundary--', '',
  ].join('\r\n');
}
