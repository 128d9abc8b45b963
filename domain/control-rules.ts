// Control rules: quality checks of a delivery before anything is sent. Each has a level:
// an error blocks the delivery (the preparation fails), a warning is logged (and holds a
// semi-automatic approval).
import type { RenderedMessage } from './template';
import type { Level, Typology } from './typology';

export interface ControlFinding {
  rule: string;
  level: Level;
  message: string;
}

const HTML_UNSUBSCRIBE = /<a\b[^>]*\bhref\s*=\s*["'][^"']*(unsubscribe|opt-?out|\{\{\s*unsubscribeUrl\s*\}\})/i;
const TEXT_UNSUBSCRIBE = /(https?:\/\/\S*(unsubscribe|opt-?out)|\{\{\s*unsubscribeUrl\s*\}\})/i;

/** Checks on the spec itself, before any profile is read. */
export function checkContent(parts: { html: string; text?: string; proofTo?: string[] }, t: Typology): ControlFinding[] {
  const findings: ControlFinding[] = [];
  if (t.unsubscribeLink) {
    const missing = [
      HTML_UNSUBSCRIBE.test(parts.html) ? '' : 'HTML',
      parts.text === undefined || TEXT_UNSUBSCRIBE.test(parts.text) ? '' : 'text',
    ].filter(Boolean);
    if (missing.length) {
      findings.push({ rule: 'unsubscribe link', level: t.unsubscribeLink.level, message: `no unsubscribe link in the ${missing.join(' and ')} part: add a link to {{unsubscribeUrl}} (one-click unsubscribe) or whose URL contains "unsubscribe"` });
    }
  }
  findings.push(...checkProofSize(parts.proofTo, t));
  return findings;
}

/** The proof target within its limit (once per delivery, whatever its variants). */
export function checkProofSize(proofTo: string[] | undefined, t: Typology): ControlFinding[] {
  const proofs = proofTo?.length ?? 0;
  return proofs > t.proofSize.max
    ? [{ rule: 'proof size', level: t.proofSize.level, message: `the proof target has ${proofs} addresses, above the limit of ${t.proofSize.max}` }]
    : [];
}

/**
 * The sender domain's DKIM keys, as the worker sees them: how many sign its mail (those of the domain or of a parent
 * domain), or why they do not open.
 */
export type SenderSigning = { domain: string; keys: number } | { domain: string; problem: string };

export function checkSigning(signing: SenderSigning, t: Typology): ControlFinding[] {
  if ('problem' in signing) return [{ rule: 'DKIM signature', level: 'error', message: signing.problem }];
  if (signing.keys > 0 || !t.dkimSignature) return [];
  return [{
    rule: 'DKIM signature', level: t.dkimSignature.level,
    message: `the sender domain ${signing.domain} has no DKIM key: its mail goes out unsigned, which Gmail and Yahoo junk or refuse in bulk. ` +
      `Add one with "delivery dkim add ${signing.domain} --selector s1 --generate rsa-2048" and publish the record it prints`,
  }];
}

/** Checks on every rendered message, summarized once per delivery. */
export class MessageChecks {
  private emptySubjects = 0;
  private firstEmptySubject?: number;
  private oversized = 0;
  private largestBytes = 0;

  constructor(private readonly t: Typology) {}

  check(profileId: number, m: RenderedMessage): void {
    if (m.subject.trim() === '') {
      this.emptySubjects++;
      this.firstEmptySubject ??= profileId;
    }
    const bytes = Buffer.byteLength(m.subject) + Buffer.byteLength(m.html) + (m.text ? Buffer.byteLength(m.text) : 0);
    this.largestBytes = Math.max(this.largestBytes, bytes);
    if (bytes > this.t.messageSize.maxKb * 1024) this.oversized++;
  }

  findings(): ControlFinding[] {
    const findings: ControlFinding[] = [];
    if (this.emptySubjects) {
      findings.push({ rule: 'subject', level: this.t.subject.level, message: `the subject is empty for ${this.emptySubjects} recipient(s) (first: profile ${this.firstEmptySubject})` });
    }
    if (this.oversized) {
      findings.push({
        rule: 'message size', level: this.t.messageSize.level,
        message: `${this.oversized} message(s) exceed ${this.t.messageSize.maxKb} KB (largest ${Math.ceil(this.largestBytes / 1024)} KB); keep messages under ~35 KB`,
      });
    }
    return findings;
  }
}

export function describeFinding(f: ControlFinding): string {
  return `control rule "${f.rule}": ${f.message}`;
}
