// Everything that makes a spec unusable, as messages naming the field and the fix: the schema,
// the templates, a tracked link whose host is a field, a contact date in the past. The CLI refuses such a spec; an edit is refused.
import { parseDeliverySpec, type SpecVerdict } from './spec';
import { compileTemplates, TemplateError } from './template';
import { linkHostProblems } from './tracking';
import { windowProblems } from './sending-windows';
import { abTestProblems, variantContent } from './sending-plan';
import { isValidAddress } from './address';
import { parseSender } from './spec';

/** The one validation of a spec at the edges: the CLI, an edit, the preparation. */
export function validateDeliverySpec(input: unknown, now: Date): SpecVerdict {
  const check = parseDeliverySpec(input);
  if (!check.ok) return check;
  const problems: string[] = [];
  try {
    compileTemplates(check.spec);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    problems.push(e.message);
  }
  problems.push(...linkHostProblems(check.spec.html));
  problems.push(...abTestProblems(check.spec.variants, check.spec.abTest));
  // Every variant may become the winner that the rest of the target gets: each is checked as a whole message.
  for (const [i, variant] of (check.spec.variants ?? []).entries()) {
    const content = variantContent(check.spec, variant);
    const where = `variants.${i} ("${variant.name}")`;
    try {
      compileTemplates(content);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      problems.push(`${where}.${e.message}`);
    }
    if (variant.html !== undefined) problems.push(...linkHostProblems(variant.html).map((p) => `${where}.${p}`));
    if (variant.from !== undefined && !isValidAddress(parseSender(variant.from).address)) {
      problems.push(`${where}.from: is not a valid sender: use "name@domain" or "Name <name@domain>"`);
    }
  }
  problems.push(...windowProblems(check.spec.windows));
  const { scheduleAt } = check.spec;
  if (scheduleAt && Date.parse(scheduleAt) < now.getTime() - 60_000) {
    problems.push(`scheduleAt: ${scheduleAt} is in the past; remove it to send now, or give a future date`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, spec: check.spec };
}
