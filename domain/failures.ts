// SMTP reply → failure qualification: a type (hard: permanent, soft: temporary and retried,
// ignored: not the address's fault) and a reason in the user's words.

export type FailureType = 'hard' | 'soft' | 'ignored';
export interface Failure {
  type: FailureType;
  reason: string;
}

/** Reasons, most specific first. The enhanced status code (RFC 3463) names the reason; the reply code decides the type. */
export const FAILURE_REASONS: Array<{ enhanced: RegExp; reason: string }> = [
  { enhanced: /^[45]\.1\.1$/, reason: 'user unknown' },
  { enhanced: /^[45]\.1\.(2|10)$/, reason: 'invalid domain' },
  { enhanced: /^[45]\.1\.\d+$/, reason: 'invalid address' },
  { enhanced: /^[45]\.2\.1$/, reason: 'account disabled' },
  { enhanced: /^[45]\.2\.2$/, reason: 'mailbox full' },
  { enhanced: /^[45]\.2\.\d+$/, reason: 'mailbox unavailable' },
  { enhanced: /^[45]\.3\.4$/, reason: 'message too large' },
  { enhanced: /^[45]\.4\.\d+$/, reason: 'unreachable' },
  { enhanced: /^[45]\.7\.\d+$/, reason: 'refused' },
];

/** Qualifies an SMTP reply code and text (e.g. 550, "5.1.1 <x@y>: user unknown"). */
export function qualifySmtpReply(code: number, reply: string): Failure {
  const type: FailureType = code >= 500 ? 'hard' : 'soft';
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1];
  const known = enhanced ? FAILURE_REASONS.find((r) => r.enhanced.test(enhanced))?.reason : undefined;
  const reason = known ?? (code === 421 ? 'unreachable' : code === 552 ? 'mailbox full' : code >= 500 ? 'refused' : 'temporarily refused');
  return { type, reason: `${reason} (${oneLine(reply) || code})` };
}

/** The reason without the SMTP detail, for counting errors by reason ("user unknown (550 …)" → "user unknown"). */
export function reasonKey(reason: string): string {
  return reason.replace(/\s*\(.*$/s, '');
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300);
}
