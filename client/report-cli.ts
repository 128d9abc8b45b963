// `delivery report` and `delivery eml-links`: a picture of a delivery, and the links of a message it sent.
import fs from 'node:fs';
import type { Command } from 'commander';
import { withDatabase } from './audience-cli';
import { InputError } from './errors';
import { emlLinks } from './eml-links';
import { readReport } from './report/read';
import { reportText } from './report/text';
import { reportHtml } from './report/html';

export function registerReportCommands(program: Command): void {
  program.command('report <id>')
    .description('a picture of the delivery: funnel, failures by reason, results by domain; --html adds charts over time in one self-contained page')
    .option('--html <file>', 'write the report as an HTML page (charts inlined, opens offline in any browser)')
    .option('--json', 'print the report as JSON')
    .action(async (id: string, opts: { html?: string; json?: boolean }) => {
      const report = await withDatabase((db) => readReport(db, id));
      if (opts.json) return console.log(JSON.stringify(report, null, 2));
      if (!opts.html) return console.log(reportText(report));
      fs.writeFileSync(opts.html, reportHtml(report));
      console.log(`${opts.html}: the report of ${id} (open it in a browser)`);
    });

  program.command('eml-links <file>')
    .description('the links of a saved message (.eml), decoded from quoted-printable, ready to open or fetch')
    .option('--json', 'print as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let raw: Buffer;
      try {
        raw = fs.readFileSync(file);
      } catch (e) {
        throw new InputError(`Cannot read ${file}: ${(e as Error).message}`, 'FILE_UNREADABLE');
      }
      const links = await emlLinks(raw);
      if (opts.json) return console.log(JSON.stringify(links, null, 2));
      if (links.length === 0) return console.log(`${file}: no links (is it an .eml message?)`);
      for (const { what, url } of links) console.log(`${what}\n  ${url}`);
    });
}
