// Message templates: Handlebars, compiled once per delivery, rendered per recipient.
// Fields are checked at compile time so a typo fails the preparation, not the 100,000th message.
import Handlebars from 'handlebars';
import { PROFILE_FIELDS, type ProfileRecord } from './profile-fields';
import { CLICK_FIELD, SEND_TIME_FIELDS } from './tracking';

/** Fields a template may name: profile columns, and attributes.<name> for free attributes. */
const TEMPLATE_FIELDS = PROFILE_FIELDS.filter((f) => f !== 'optOut');

export class TemplateError extends Error {
  constructor(readonly part: string, detail: string) {
    super(`${part} template: ${detail}`);
    this.name = 'TemplateError';
  }
}

export interface RenderedMessage {
  subject: string;
  html: string;
  text?: string;
}

/** What a recipient's message is rendered from (stored per recipient at preparation). */
export type Personalization = Record<string, unknown>;

export interface CompiledTemplates {
  /** Profile fields the templates use: the only ones captured per recipient. */
  fields: string[];
  render(data: Personalization): RenderedMessage;
}

// An isolated environment: no helper registered by any other code can leak in.
const hb = Handlebars.create();
const COMPILE_OPTIONS = { strict: false, knownHelpersOnly: true, preventIndent: true } as const;

export function compileTemplates(parts: { subject: string; html: string; text?: string }): CompiledTemplates {
  const fields = new Set<string>();
  const subject = compilePart('subject', parts.subject, true, fields);
  const html = compilePart('html', parts.html, false, fields);
  const text = parts.text === undefined ? undefined : compilePart('text', parts.text, true, fields);
  return {
    fields: [...fields].sort(),
    render(data) {
      return {
        subject: subject(data).replace(/[\r\n]+/g, ' '),
        html: html(data),
        ...(text ? { text: text(data) } : {}),
      };
    },
  };
}

/** One HTML fragment (a link's href) rendered with the same rules as the HTML part. */
export function compileHtmlFragment(part: string, source: string): (data: Personalization) => string {
  return compilePart(part, source, false, new Set());
}

function compilePart(part: string, source: string, noEscape: boolean, fields: Set<string>): (data: Personalization) => string {
  let ast: hbs.AST.Program;
  try {
    ast = hb.parse(source);
  } catch (e) {
    throw new TemplateError(part, `syntax error: ${firstLine(e)}`);
  }
  for (const path of pathsOf(part, ast)) {
    const field = checkField(part, path);
    if (field) fields.add(field);
  }
  const template = hb.compile(source, { ...COMPILE_OPTIONS, noEscape });
  try {
    template({}); // surfaces errors Handlebars only reports at first render (unknown helpers…)
  } catch (e) {
    const unknownHelper = /unknown helper (\S+) - (\d+):/.exec(firstLine(e));
    if (unknownHelper) throw new TemplateError(part, `unknown helper {{${unknownHelper[1]}}} (line ${unknownHelper[2]}); the helpers are if, unless, each and with`);
    throw new TemplateError(part, firstLine(e));
  }
  return (data) => template(data, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
}

/** Returns the top-level field a path reads, or throws when it names nothing a profile has. */
function checkField(part: string, path: hbs.AST.PathExpression): string | undefined {
  if (path.data || path.parts.length === 0) return undefined; // @index, this
  const [head, ...rest] = path.parts;
  // Filled per message when it is sent (tracking URLs), not captured from the profile.
  if ((SEND_TIME_FIELDS as readonly string[]).includes(head) && rest.length === 0) return undefined;
  if (head === CLICK_FIELD && rest.length === 1) return undefined;
  if (head === 'attributes' && rest.length === 1) return head;
  if ((TEMPLATE_FIELDS as readonly string[]).includes(head) && rest.length === 0) return head;
  const line = path.loc ? ` (line ${path.loc.start.line})` : '';
  throw new TemplateError(part, `unknown field {{${path.original}}}${line}; use one of ${[...TEMPLATE_FIELDS, ...SEND_TIME_FIELDS].map((f) => `{{${f}}}`).join(', ')} or {{attributes.<name>}}`);
}

/** Every path the template reads as data (helper names such as `if` or `each` are not data). */
function pathsOf(part: string, node: unknown, found: hbs.AST.PathExpression[] = []): hbs.AST.PathExpression[] {
  const n = node as { type?: string } & Record<string, unknown>;
  switch (n?.type) {
    case 'Program':
      for (const child of n.body as unknown[]) pathsOf(part, child, found);
      break;
    case 'PathExpression':
      found.push(n as unknown as hbs.AST.PathExpression);
      break;
    case 'MustacheStatement':
      if (part === 'html' && n.escaped === false) {
        const name = (n.path as hbs.AST.PathExpression).original;
        throw new TemplateError(part, `{{{${name}}}} would insert the value without HTML escaping; write {{${name}}}`);
      }
    // falls through
    case 'SubExpression':
    case 'BlockStatement': {
      const call = n as unknown as hbs.AST.BlockStatement;
      const isHelperCall = n.type !== 'MustacheStatement' || call.params.length > 0 || call.hash !== undefined;
      if (!isHelperCall) pathsOf(part, call.path, found);
      for (const p of call.params) pathsOf(part, p, found);
      for (const pair of call.hash?.pairs ?? []) pathsOf(part, pair.value, found);
      if (call.program) pathsOf(part, call.program, found);
      if (call.inverse) pathsOf(part, call.inverse, found);
      break;
    }
    case 'PartialStatement':
    case 'PartialBlockStatement':
    case 'DecoratorBlock':
    case 'Decorator':
      throw new TemplateError(part, 'partials and decorators are not supported ({{> …}}, {{* …}}); write the content inline');
  }
  return found;
}

/** The values a recipient's message needs, captured from the profile at preparation. */
export function personalizationOf(profile: ProfileRecord, fields: readonly string[]): Personalization {
  const data: Personalization = {};
  for (const f of fields) data[f] = f === 'attributes' ? profile.attributes : profile[f as keyof ProfileRecord];
  return data;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n').filter(Boolean).slice(0, 2).join(' ').trim();
}
