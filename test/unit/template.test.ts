import { compileTemplates, personalizationOf, TemplateError } from '../../domain/template';

const profile = { id: 1, email: 'a@b.example', firstName: '<Ann>', lastName: 'Lee & Co', language: 'en', country: 'GB', optOut: false, attributes: { city: 'Paris' } };

function compileError(parts: { subject?: string; html?: string; text?: string }): string {
  try {
    compileTemplates({ subject: 's', html: 'h', ...parts });
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as Error).message;
  }
  throw new Error('expected a template error');
}

describe('message templates', () => {
  it('personalizes subject, HTML and text, escaping values in HTML only', () => {
    const t = compileTemplates({ subject: 'Hi {{firstName}}', html: '<p>{{firstName}} {{lastName}} {{attributes.city}}</p>', text: '{{firstName}} {{lastName}}' });
    const m = t.render(personalizationOf(profile, t.fields));
    expect(m).toEqual({ subject: 'Hi <Ann>', html: '<p>&lt;Ann&gt; Lee &amp; Co Paris</p>', text: '<Ann> Lee & Co' });
  });

  it('captures only the fields the templates use', () => {
    const t = compileTemplates({ subject: 'Hi {{firstName}}', html: '{{#if country}}{{country}}{{/if}}' });
    expect(t.fields).toEqual(['country', 'firstName']);
    expect(personalizationOf(profile, t.fields)).toEqual({ country: 'GB', firstName: '<Ann>' });
  });

  it('reports a syntax error with the part that has it', () => {
    expect(compileError({ html: '<p>{{#if firstName}}</p>' })).toMatch(/^html template: syntax error/);
    expect(compileError({ subject: 'Hi {{firstName' })).toMatch(/^subject template: syntax error/);
  });

  it('reports an unknown field with its line and the fields available', () => {
    expect(compileError({ text: 'line 1\n{{frstName}}' })).toBe(
      'text template: unknown field {{frstName}} (line 2); use one of {{email}}, {{firstName}}, {{lastName}}, {{language}}, {{country}}, {{unsubscribeUrl}}, {{mirrorPageUrl}} or {{attributes.<name>}}',
    );
  });

  it('gives templates no way to reach code or the file system', () => {
    expect(compileError({ html: '{{constructor.constructor "return process"}}' })).toMatch(/unknown helper|unknown field/);
    expect(compileError({ html: '{{> etcPasswd}}' })).toMatch(/partials and decorators are not supported/);
    expect(compileError({ html: '{{require "fs"}}' })).toMatch(/unknown helper/);
    const t = compileTemplates({ subject: 's', html: '{{lookup this "constructor"}}' });
    expect(t.render({}).html).toBe('');
  });

  it('refuses unescaped insertion in HTML', () => {
    expect(compileError({ html: '{{{firstName}}}' })).toMatch(/without HTML escaping; write \{\{firstName\}\}/);
  });

  it('keeps a rendered subject on one line', () => {
    const t = compileTemplates({ subject: 'Hi {{firstName}}', html: 'x' });
    expect(t.render({ firstName: 'A\r\nBcc: x@y.example' }).subject).toBe('Hi A Bcc: x@y.example');
  });
});
