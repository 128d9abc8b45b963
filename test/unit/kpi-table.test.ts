import fs from 'node:fs';
import path from 'node:path';
import { emptyKpis } from '../../domain/delivery';
import { kpiDetails, kpiLines, kpiMarkdown, KPI_TABLE } from '../../domain/kpi-table';
import { kpiTable } from '../../client/format';

describe('the KPI table', () => {
  const k = { ...emptyKpis(), targeted: 10, toDeliver: 8, toExclude: 2, sent: 8, delivered: 7, failed: 1, opens: 3, openRate: 42.9, totalOpens: 5 };

  it('is the README\'s list of KPIs', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const block = /<!-- kpi-table:start -->\n([\s\S]*?)\n<!-- kpi-table:end -->/.exec(readme)?.[1];
    expect(block).toBe(kpiMarkdown());
  });

  it('drives the CLI table: every row, percentages of their base, rare rows only when set', () => {
    const text = kpiTable(k);
    expect(text.split('\n')).toHaveLength(KPI_TABLE.length - KPI_TABLE.filter((row) => row.onlyWhenSet).length);
    expect(text).toMatch(/To deliver\s+8 {2}80\.0%/);
    expect(text).toMatch(/Errors\s+1 {2}11\.1%/);
    expect(text).toMatch(/Opens\s+3 {2}42\.9% of delivered \(5 opens in all\)/);
    expect(kpiLines({ ...k, possibleDuplicates: 2 }).map(([label]) => label)).toContain('Possible duplicates');
    expect(kpiTable({ ...k, cancelled: 4 })).toMatch(/Cancelled\s+4 {2}50\.0%/); // of to deliver
  });

  it('drives the Web UI\'s current details line, after the situation', () => {
    expect(kpiDetails('**sent**', k)).toBe('**sent** · targeted 10 · to deliver 8 · excluded 2 · sent 8 · delivered 7 · errors 1 · pending 0 · opens 3 (42.9%) · clicks 0 (0.0%) · unsubscriptions 0 · complaints 0');
    expect(kpiDetails('stopped', { ...k, cancelled: 4 })).toMatch(/pending 0 · cancelled 4 · opens/); // a rare count only once it happened
  });
});
