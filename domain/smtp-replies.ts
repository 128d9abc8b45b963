// Who an SMTP reply to RCPT TO, to the end of the data, or in a DSN is about: the recipient (their address or
// mailbox), the relay (our access to it, its own trouble, its limits), or the sender (authentication, reputation,
// content). One table, read top to bottom, like Adobe's delivery log qualification; the first rule that matches
// wins, and a reply no rule names is the recipient's (qualified by failures.ts).
//
// Real relays answer RCPT TO with much more than the recipient's fate: Postfix's default smtpd_delay_reject=yes
// moves its client, HELO and sender restrictions there ("554 5.7.1 <x@y>: Relay access denied"), and ESPs answer
// quota and identity problems at the end of the data. Charging those to recipients would fail and quarantine an
// innocent audience.

/** Whose problem a reply names. */
export type ReplyParty = 'recipient' | 'relay' | 'sender';
/** Where the reply came from: our relay, in the SMTP session, or a DSN from a server further on. */
export type ReplyContext = 'session' | 'dsn';

export interface ReplyRule {
  /** What the rule recognises, in a few words (tests and docs name rules by it). */
  name: string;
  /** The enhanced status code (RFC 3463), e.g. /^5\.7\.2[0-7]$/. */
  enhanced?: RegExp;
  /** The reply's text. */
  text?: RegExp;
  /** The reply code. */
  code?: RegExp;
  /** A rule matches when every test it has matches. */
  party: ReplyParty | Record<ReplyContext, ReplyParty>;
  /** The reason in the user's words: kept on the sending log ("sender not authenticated (550 5.7.26 …)"). */
  reason: string;
  /** What to do, for relay and sender problems: the delivery pauses with it. */
  fix?: string;
}

const RESUME = 'then resume the delivery';

export const REPLY_RULES: readonly ReplyRule[] = [
  {
    name: 'relay access denied',
    text: /relay(ing)? (access )?(denied|not permitted|prohibited|refused|not allowed)|unable to relay|not permitted to relay|we do not relay|no relaying|relay not permitted/i,
    party: 'relay', reason: 'the relay does not relay for us',
    fix: `allow this host to relay (Postfix: mynetworks, or authenticate: set the user and password in SMTP_URL), ${RESUME}`,
  },
  {
    name: 'authentication required',
    code: /^530$/,
    party: 'relay', reason: 'the relay requires authentication', fix: `set the user and password in SMTP_URL, ${RESUME}`,
  },
  {
    name: 'authentication required',
    text: /authentication (is )?required|must (first )?authenticate|authenticate first|client was not authenticated|not authorized to send/i,
    party: 'relay', reason: 'the relay requires authentication', fix: `set the user and password in SMTP_URL, ${RESUME}`,
  },
  {
    name: 'TLS required',
    text: /starttls|tls (is )?required|encryption (is )?required|must use tls/i,
    party: 'relay', reason: 'the relay requires TLS', fix: `use smtps:// or a relay that offers STARTTLS in SMTP_URL, ${RESUME}`,
  },
  {
    name: 'TLS required',
    enhanced: /^[45]\.7\.1[01]$/,
    party: 'relay', reason: 'the relay requires TLS', fix: `use smtps:// or a relay that offers STARTTLS in SMTP_URL, ${RESUME}`,
  },
  {
    name: 'sender address rejected',
    text: /sender address rejected|sender (address|domain) (is )?(not|unknown|invalid)|not owned by|sender verify failed|(address|identity|identities) (is )?not verified|identities failed the check|from address (is )?not allowed/i,
    party: { session: 'relay', dsn: 'sender' }, reason: 'the sender address is refused',
    fix: `check the sender address and BOUNCE_DOMAIN against the relay's sender rules (an ESP: verify the sending identity), ${RESUME}`,
  },
  {
    name: 'sender address rejected',
    enhanced: /^[45]\.1\.[78]$/,
    party: { session: 'relay', dsn: 'sender' }, reason: 'the sender address is refused',
    fix: `check the sender address and BOUNCE_DOMAIN against the relay's sender rules (an ESP: verify the sending identity), ${RESUME}`,
  },
  {
    // In the session it is the relay refusing this host; in a DSN, the recipient's server refusing the relay's IP.
    name: 'sending host refused',
    text: /client host \S*\s*(rejected|blocked)|helo command rejected|blocked using|black ?list|block ?list|dnsbl|\brbl\b|spamhaus|spamcop|barracuda|banned sending ip|(your|sending|client|connecting) (ip|host|server)\b[^.;]*\b(is |has been |was )?(blocked|not allowed|rejected|banned|listed)/i,
    party: { session: 'relay', dsn: 'sender' }, reason: 'the sending host is refused',
    fix: `check the relay's access rules for this host and its IP's reputation (blocklist listings), ${RESUME}`,
  },
  {
    // RFC 7372: 5.7.20–5.7.27 name DKIM, SPF, reverse DNS and DMARC failures; the providers' texts name the rest.
    name: 'sender not authenticated (SPF, DKIM, DMARC)',
    enhanced: /^[45]\.7\.(2[0-7]|509|515|32)$/,
    party: 'sender', reason: 'sender not authenticated',
    fix: `publish SPF, DKIM and DMARC for the sender's domain (or sign at the relay) so that the receiving servers accept it, ${RESUME}`,
  },
  {
    name: 'sender not authenticated (SPF, DKIM, DMARC)',
    text: /dmarc|\bspf\b|dkim|unauthenticated|not authenticated|authentication (checks? )?(fail|did not pass)|ptr record|reverse dns|sender policy framework/i,
    party: 'sender', reason: 'sender not authenticated',
    fix: `publish SPF, DKIM and DMARC for the sender's domain (or sign at the relay) so that the receiving servers accept it, ${RESUME}`,
  },
  {
    name: 'refused as spam or for reputation',
    text: /spam|unsolicited|reputation|bulk mail|policy reasons|\[TSS\d+\]|phish|malware|virus|content (was )?(rejected|refused)|content policy|security (issue|risk)|complaints/i,
    party: 'sender', reason: 'refused as spam',
    fix: `check the content and the sender's reputation (the receiving servers' postmaster pages), ${RESUME}`,
  },
  // The recipient's mailbox (full, disabled, receiving too fast): the words below must not take it for a relay limit.
  { name: "the recipient's mailbox", enhanced: /^[45]\.2\.\d+$/, party: 'recipient', reason: '' },
  { name: "the recipient's mailbox", text: /mailbox|over ?quota|user quota|storage quota/i, party: 'recipient', reason: '' },
  {
    name: 'rate or quota of the relay',
    enhanced: /^[45]\.(5\.3|4\.5)$/,
    party: 'relay', reason: 'the relay limits our sending', fix: `lower the delivery's messagesPerSecond or raise the relay's limits, ${RESUME}`,
  },
  {
    name: 'rate or quota of the relay',
    text: /rate limit|rate exceeded|too many (connections|messages|recipients|sessions|mails)|throttl|sending (quota|rate)|daily (message |sending )?(quota|limit)|maximum sending rate|quota exceeded/i,
    party: 'relay', reason: 'the relay limits our sending', fix: `lower the delivery's messagesPerSecond or raise the relay's limits, ${RESUME}`,
  },
  {
    // x.3.4 is the size: refused by our relay it pauses the delivery; refused further on it is not the address's fault.
    name: 'message too large',
    enhanced: /^[45]\.3\.4$/,
    party: { session: 'relay', dsn: 'sender' }, reason: 'the message is too large', fix: `make the message smaller, ${RESUME}`,
  },
  {
    name: "the relay's own trouble (storage, lookups, configuration)",
    enhanced: /^[45]\.3\.\d+$/,
    party: 'relay', reason: 'the relay failed', fix: `check the relay's logs, ${RESUME}`,
  },
  {
    name: "the relay's own trouble (storage, lookups, configuration)",
    text: /insufficient (system )?storage|temporary lookup failure|server configuration (problem|error)|local (error|configuration error)|queue file write error|system resources|out of memory/i,
    party: 'relay', reason: 'the relay failed', fix: `check the relay's logs, ${RESUME}`,
  },
];

export interface ReplyVerdict {
  party: ReplyParty;
  /** A 4xx reply: it may pass; a 5xx will not without a change. */
  temporary: boolean;
  /** The reason with the reply in one line ("the relay does not relay for us (554 5.7.1 …)"); empty for the recipient's. */
  reason: string;
  fix?: string;
  rule?: string;
}

/** Which party a reply names, by the first rule of REPLY_RULES that matches (none: the recipient's). */
export function qualifyReply(code: number, text: string, context: ReplyContext): ReplyVerdict {
  const reply = oneLine(text);
  const enhanced = enhancedCode(reply);
  const temporary = code < 500;
  for (const rule of REPLY_RULES) {
    if (rule.code && !rule.code.test(String(code))) continue;
    if (rule.enhanced && !(enhanced && rule.enhanced.test(enhanced))) continue;
    if (rule.text && !rule.text.test(reply)) continue;
    const party = typeof rule.party === 'string' ? rule.party : rule.party[context];
    if (party === 'recipient') return { party, temporary, reason: '', rule: rule.name };
    return { party, temporary, reason: `${rule.reason} (${reply})`, fix: rule.fix, rule: rule.name };
  }
  return { party: 'recipient', temporary, reason: '' };
}

/** Every reason a sender-party rule gives (the failure-rate guard names the fix for them). */
export const SENDER_REASONS: ReadonlySet<string> = new Set(REPLY_RULES.filter((r) => r.party === 'sender' || (typeof r.party !== 'string' && r.party.dsn === 'sender')).map((r) => r.reason));

export function enhancedCode(reply: string): string | undefined {
  return /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1];
}

/** Relays quote the recipient: a cause that reaches the workflow's history, the logs and the Web UI names nobody. */
export function withoutAddresses(text: string): string {
  return text.replace(/<?[^\s<>@"(),;:[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+>?/g, '<address>');
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300);
}
