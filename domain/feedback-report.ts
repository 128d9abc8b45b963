// Feedback-loop reports (ARF, RFC 5965): a mailbox provider tells the sender that a recipient reported its message
// as spam. Read with mailparser's own MIME splitter (@zone-eu/mailsplit), which keeps the headers of the enclosed
// message (mailparser folds a message/rfc822 part into the body text). What names our message is only what we
// signed: the return path and the Message-ID of the enclosed headers, or Original-Mail-From; a report whose
// references do not check out is refused by the listener, like a forged DSN.
import { Headers, Splitter } from '@zone-eu/mailsplit';
import type { SplitterChunk } from '@zone-eu/mailsplit/lib/types';

/** Feedback types that are a recipient's complaint (RFC 5965 §7.3); the others are accepted and change nothing. */
export const COMPLAINT_TYPES = ['abuse', 'fraud'] as const;

export interface FeedbackReport {
  /** abuse | fraud | virus | other | not-spam | auth-failure … (lower-cased). */
  feedbackType: string;
  /** The envelope sender of the reported message (our VERP return path when BOUNCE_DOMAIN is set). */
  originalMailFrom?: string;
  originalRcptTo?: string;
  /** From the enclosed message's headers. */
  original: { messageId?: string; returnPath?: string };
}

/** Whether a message is a feedback report at all (its top-level Content-Type), before reading it whole. */
export function isFeedbackReport(contentType: string | undefined): boolean {
  return /^\s*multipart\/report\b/i.test(contentType ?? '') && /report-type\s*=\s*"?feedback-report"?/i.test(contentType ?? '');
}

const angle = (v: string | undefined) => v?.trim().replace(/^<|>$/g, '') || undefined;

/** The report's fields and the enclosed message's references, or undefined when it is not a feedback report. */
export async function parseFeedbackReport(raw: Buffer): Promise<FeedbackReport | undefined> {
  let topType = '';
  let feedback: Buffer[] | undefined;
  let headersPart: Buffer[] | undefined;
  let enclosed: InstanceType<typeof Headers> | undefined;
  let reading: Buffer[] | undefined;
  const splitter = new Splitter();
  splitter.end(raw);
  for await (const d of splitter as AsyncIterable<SplitterChunk>) {
    if (d.type === 'node') {
      reading = undefined;
      if (d.root) topType = d.headers ? d.headers.getFirst('content-type') : '';
      else if (d.contentType === 'message/feedback-report') reading = feedback = [];
      else if (d.contentType === 'text/rfc822-headers') reading = headersPart = [];
      // The first node inside a message/rfc822 part is the enclosed message: its headers are the original's.
      else if (d.parentNode && d.parentNode.contentType === 'message/rfc822' && !enclosed && d.headers) enclosed = d.headers;
    } else if (d.type === 'body' && reading) {
      reading.push(d.value);
    }
  }
  if (!isFeedbackReport(topType) || !feedback) return undefined;
  const fields = new Headers(Buffer.concat([Buffer.concat(feedback), Buffer.from('\r\n\r\n')]));
  const original = enclosed ?? (headersPart ? new Headers(Buffer.concat([Buffer.concat(headersPart), Buffer.from('\r\n\r\n')])) : undefined);
  return {
    feedbackType: (fields.getFirst('feedback-type') || 'other').trim().toLowerCase(),
    originalMailFrom: angle(fields.getFirst('original-mail-from')),
    originalRcptTo: angle(fields.getFirst('original-rcpt-to')),
    original: { messageId: original?.getFirst('message-id')?.trim() || undefined, returnPath: angle(original?.getFirst('return-path')) },
  };
}
