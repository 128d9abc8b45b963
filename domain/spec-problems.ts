// Everything that makes a spec unusable, as messages naming the field and the fix: the schema,
// the templates, a tracked link whose host is a field, a contact date in the past. The CLI refuses such a spec; an edit is refused.
import { parseDeliverySpec, type SpecVerdict } from './spec';
import { compileTemplates, TemplateError } from './template';
import { linkHostProblems } from './tracking';
import { windowProblems } from './sending-windows';
import { abTestProblems, variantContent } from './sending-plan';
import { isZone } from './local-time';
import { domainOf, isValidAddress } from './address';
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
  if (check.spec.waves && check.spec.abTest?.percent === 100) problems.push('waves: nothing is left for them after an A/B test of 100% of the target: lower abTest.percent or remove waves');
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
    if (variant.from !== undefined) problems.push(...variantSenderProblems(variant.from, check.spec.from).map((p) => `${where}.from: ${p}`));
  }
  problems.push(...windowProblems(check.spec.windows));
  const { scheduleAt, timeZone, defaultTimeZone } = check.spec;
  if (check.spec.sendTime === 'optimal' && timeZone === 'recipient') {
    problems.push('sendTime: "optimal" chooses each recipient\'s own hour, and "timeZone": "recipient" a local hour: keep one of them');
  }
  if (!isZone(defaultTimeZone)) problems.push(`defaultTimeZone: "${defaultTimeZone}" is not a time zone: use an IANA name such as "Europe/Paris", "America/New_York" or "UTC"`);
  // A local time has passed everywhere once it has in the last zone (UTC−12).
  const lastInstant = !scheduleAt ? NaN : timeZone === 'recipient' ? Date.parse(`${scheduleAt}Z`) + 12 * 3600_000 : Date.parse(scheduleAt);
  if (scheduleAt && lastInstant < now.getTime() - 60_000) {
    problems.push(`scheduleAt: ${scheduleAt} is in the past${timeZone === 'recipient' ? ' in every time zone' : ''}; remove it to send now, or give a future date`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, spec: check.spec };
}

/**
 * A variant may test another sender name or address, within the delivery's sender domain: its DKIM keys, warm-up and
 * complaint breaker belong to that domain.
 */
function variantSenderProblems(from: string, deliveryFrom: string): string[] {
  const address = parseSender(from).address;
  if (!isValidAddress(address)) return ['is not a valid sender: use "name@domain" or "Name <name@domain>"'];
  const domain = domainOf(parseSender(deliveryFrom).address);
  return domainOf(address) === domain ? [] : [`must be an address at the delivery's sender domain ${domain} (its signing, warm-up and complaints are that domain's)`];
}
