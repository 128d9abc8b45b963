// Who is at fault when SMTP fails: the recipient, the relay, the sender, or nobody knows. Judged by the step
// the error answered (RFC 5321) as well as by what it says: only a reply to RCPT TO, or an end-of-data reply
// about this message, can name the recipient's problem, and even there the relay often speaks of itself
// (smtp-replies.ts). A relay fault must never fail or quarantine a recipient.
import { qualifySmtpReply, type Failure } from './failures';
import { enhancedCode, qualifyReply, withoutAddresses } from './smtp-replies';

/** The step of an SMTP exchange an error came from. */
export type SmtpStep = 'connection' | 'greeting' | 'ehlo' | 'tls' | 'auth' | 'mail from' | 'rcpt to' | 'data' | 'end of data';

export interface SmtpError {
  step: SmtpStep;
  /** The relay's reply code, when it answered. */
  code?: number;
  /** The relay's reply, or what went wrong when it did not answer. */
  text: string;
  /** The message's content had gone out in full (final "." included) when the connection was lost. */
  contentSent?: boolean;
}

export interface RelayFault {
  /** Permanent: the delivery halts until ops fix it and resume. Temporary: try again later, with backoff. */
  permanent: boolean;
  /** What happened, with the relay's words: "the relay refused our credentials (535 5.7.8 …)". */
  cause: string;
  /** What ops should do (permanent faults): "fix SMTP_URL, then resume". */
  fix?: string;
}

export type SmtpVerdict =
  /** The recipient's (or this message's) failure: recorded on its sending log. */
  | { charge: 'recipient'; failure: Failure }
  /**
   * Refused for the sender's authentication, reputation or content: never held against the address (type
   * ignored), retried when temporary, and counted by the failure-rate guard.
   */
  | { charge: 'sender'; failure: Failure & { type: 'ignored' }; temporary: boolean }
  /** The relay's: the message is given back unsent. */
  | { charge: 'relay'; fault: RelayFault }
  /** The connection was lost after the content went out: the relay may have taken it. Retried, counted as a possible duplicate. */
  | { charge: 'nobody'; failure: Failure };

const CERTIFICATE = /certificate|self[- ]signed|altnames|unable to (verify|get local issuer)|CERT_|DEPTH_ZERO/i;
const RESUME = 'then resume the delivery';

export function judgeSmtpError(e: SmtpError): SmtpVerdict {
  const reply = oneLine(e.text);
  const temporary = (cause: string): SmtpVerdict => ({ charge: 'relay', fault: { permanent: false, cause } });
  const permanent = (cause: string, fix: string): SmtpVerdict => ({ charge: 'relay', fault: { permanent: true, cause, fix } });
  const relay = (what: string, fix: string): SmtpVerdict => (e.code !== undefined && e.code < 500 ? temporary(`${what} for now (${reply})`) : permanent(`${what} (${reply})`, fix));
  // 421: the relay is closing the channel, whatever the command (RFC 5321 4.2.2): never the recipient's.
  if (e.code === 421) return temporary(`the relay is not available (${reply})`);

  switch (e.step) {
    case 'rcpt to':
    case 'end of data': {
      if (e.code === undefined) {
        if (e.step === 'rcpt to') return { charge: 'recipient', failure: { type: 'hard', reason: `invalid address (${reply})` } };
        return { charge: 'recipient', failure: qualifySmtpReply(554, reply) };
      }
      const said = qualifyReply(e.code, reply, 'session');
      const cause = withoutAddresses(said.reason);
      if (said.party === 'relay') return said.temporary ? temporary(cause) : permanent(cause, said.fix ?? `check the relay's logs, ${RESUME}`);
      if (said.party === 'sender') return { charge: 'sender', failure: { type: 'ignored', reason: said.reason }, temporary: said.temporary };
      // Protocol statuses (x.5.x) at the end of the data are the relay's trouble, not this message's.
      if (e.step === 'end of data' && /^[45]\.5\.\d+$/.test(enhancedCode(reply) ?? '')) return relay('the relay failed to take the message', `check the relay's logs, ${RESUME}`);
      return { charge: 'recipient', failure: qualifySmtpReply(e.code, reply) };
    }
    case 'connection':
      if (e.code !== undefined) return relay('the relay closed the connection', `check the relay's logs, ${RESUME}`);
      if (e.contentSent) return { charge: 'nobody', failure: { type: 'soft', reason: `unreachable (connection lost after the message was sent: ${reply})` } };
      return temporary(`the relay cannot be reached or dropped the connection (${reply})`);
    case 'greeting':
      return relay('the relay refuses our connections', `check that this host may use the relay (its allow list, limits), ${RESUME}`);
    case 'ehlo':
      return relay('the relay refused our EHLO', `check the relay's settings for this host name, ${RESUME}`);
    case 'tls':
      if (CERTIFICATE.test(reply)) return permanent(`the relay's TLS certificate was refused (${reply})`, `give the relay a valid certificate, or trust its CA on the workers (NODE_EXTRA_CA_CERTS), ${RESUME}`);
      if (e.code === undefined) return temporary(`the TLS handshake with the relay failed (${reply})`);
      return relay('the relay cannot start TLS', `fix TLS on the relay, or the TLS options of SMTP_URL, ${RESUME}`);
    case 'auth':
      return relay('the relay refused our credentials', `fix the user and password in SMTP_URL, ${RESUME}`);
    case 'mail from':
      if (e.code === undefined) return permanent(`the message is larger than the relay accepts (${reply})`, `make the message smaller, ${RESUME}`);
      if (e.code === 530 || /\b5\.7\.0\b/.test(reply)) return permanent(`the relay requires authentication (${reply})`, `set the user and password in SMTP_URL, ${RESUME}`);
      return relay('the relay refused our return path', `check the sender address and BOUNCE_DOMAIN against the relay's sender rules, ${RESUME}`);
    case 'data':
      return relay('the relay refused the DATA command', `check the relay's logs, ${RESUME}`);
  }
}

/** "the relay refused our credentials (535 5.7.8 …): fix the user and password in SMTP_URL, then resume the delivery" */
export function describeRelayFault(f: RelayFault): string {
  return f.fix ? `${f.cause}: ${f.fix}` : f.cause;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300);
}
