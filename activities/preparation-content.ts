// What the preparation renders and checks for every recipient: the delivery's content, or with an A/B test each
// variant as a whole message (any of them may become the winner the rest of the target gets).
import { ApplicationFailure } from '@temporalio/activity';
import { checkContent, checkProofSize, checkSigning, MessageChecks, type ControlFinding } from '../domain/control-rules';
import { deliveryMessages } from '../domain/message';
import { messageContents } from '../domain/sending-plan';
import type { DeliverySpec } from '../domain/spec';
import { compileTemplates, TemplateError, type CompiledTemplates, type Personalization } from '../domain/template';
import { linkHostProblems } from '../domain/tracking';
import type { Typology } from '../domain/typology';
import type { ActivityDeps } from './deps';
import { senderSigning } from './sending/sender-keys';

export interface ContentUnderCheck {
  /** The variant's name; undefined for a delivery without variants. */
  variant?: string;
  templates: CompiledTemplates;
  checks: MessageChecks;
}

export interface PreparationContents {
  contents: ContentUnderCheck[];
  /** Profile fields any of the contents uses: the only ones captured per recipient. */
  fields: string[];
  /** Findings on the contents themselves (unsubscribe link, DKIM key of each sender). */
  findings: ControlFinding[];
}

/** Every content compiled (a template error fails the preparation, naming the variant) and checked once. */
export async function preparationContents(deps: ActivityDeps, spec: DeliverySpec, typology: Typology): Promise<PreparationContents> {
  const named = messageContents(spec);
  const contents: ContentUnderCheck[] = [];
  const findings: ControlFinding[] = [];
  for (const { variant, content } of named) {
    contents.push({ variant, templates: validTemplates(content, variant), checks: new MessageChecks(typology) });
    findings.push(...checkContent({ html: content.html, text: content.text }, typology).map((f) => ofVariant(f, variant)));
  }
  findings.push(...checkProofSize(spec.proof?.to, typology));
  // Signing belongs to the sender's domain (its finding names it): once per sender, whichever variants use it.
  if (deps.dkim) {
    for (const from of new Set(named.map((n) => n.content.from))) findings.push(...checkSigning(await senderSigning(deps.db, deps.dkim.secret, { from }), typology));
  }
  return { contents, fields: [...new Set(contents.flatMap((c) => c.templates.fields))].sort(), findings };
}

/** Renders and checks one recipient's message in every content. */
export function checkRecipient(contents: ContentUnderCheck[], profileId: number, personalization: Personalization): void {
  for (const c of contents) c.checks.check(profileId, render(c, personalization, profileId));
}

/** What the checks of every rendered message found, per variant. */
export function renderedFindings(contents: ContentUnderCheck[]): ControlFinding[] {
  return contents.flatMap((c) => c.checks.findings().map((f) => ofVariant(f, c.variant)));
}

function ofVariant(f: ControlFinding, variant: string | undefined): ControlFinding {
  return variant === undefined ? f : { ...f, message: `variant "${variant}": ${f.message}` };
}

function validTemplates(content: DeliverySpec, variant: string | undefined): CompiledTemplates {
  const of = variant === undefined ? '' : `variant "${variant}": `;
  const hosts = linkHostProblems(content.html);
  if (hosts.length) throw ApplicationFailure.nonRetryable(of + hosts.join('; '), 'UntrustedLinkHost');
  try {
    deliveryMessages('check', content, { baseUrl: 'http://check', secret: 'check' }); // links rewritten for tracking must compile too
    return compileTemplates(content);
  } catch (e) {
    if (e instanceof TemplateError) throw ApplicationFailure.nonRetryable(of + e.message, 'InvalidTemplate');
    throw e;
  }
}

function render(c: ContentUnderCheck, data: Personalization, profileId: number) {
  try {
    return c.templates.render(data);
  } catch (e) {
    const of = c.variant === undefined ? '' : ` (variant "${c.variant}")`;
    throw ApplicationFailure.nonRetryable(`message of profile ${profileId}${of} cannot be rendered: ${(e as Error).message}`, 'InvalidTemplate');
  }
}
