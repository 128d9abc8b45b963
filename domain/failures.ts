// SMTP reply → failure qualification (type hard/soft/ignored and a reason in the user's words).

export type FailureType = 'hard' | 'soft' | 'ignored';
export interface Failure {
  type: FailureType;
  reason: string;
}

/** Enhanced status codes (RFC 3463) that name the reason precisely. */
const BY_ENHANCED_CODE: Array<[RegExp, string]> = [
  [/^[45]\.1\.1$/, 'user unknown'],
  [/^[45]\.1\.2$/, 'invalid domain'],
  [/^[45]\.1\.[0-9]+$/, 'invalid address'],
  [/^[45]\.2\.1$/, 'account disabled'],
  [/^[45]\.2\.2$/, 'mailbox full'],
  [/^[45]\.4\.[0-9]+$/, 'unreachable'],
  [/^[45]\.7\.[0-9]+$/, 'refused'],
];

/** Qualifies an SMTP reply code and text (e.g. 550, "5.1.1 <a@b>: user unknown"). */
export function qualifySmtpReply(code: number, reply: string): Failure {
  const type: FailureType = code >= 500 ? 'hard' : 'soft';
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1];
  const known = enhanced ? BY_ENHANCED_CODE.find(([re]) => re.test(enhanced))?.[1] : undefined;
  const reason = known ?? (code === 421 ? 'unreachable' : code >= 500 ? 'refused' : 'temporarily refused');
  return { type, reason: `${reason} (${oneLine(reply) || code})` };
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300);
}
