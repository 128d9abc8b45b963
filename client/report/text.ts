// A delivery's report in a terminal: the funnel, failures by reason and results by domain (charts: --html).
import type { DeliveryReport } from '../../domain/report';
import { table } from '../format';

const share = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '');

export function reportText(r: DeliveryReport): string {
  const f = r.funnel;
  // The rates of the KPIs: delivered of those not excluded, opened and clicked of those delivered.
  const funnel = table(['Funnel', 'Recipients', 'Rate'], [
    ['Targeted', String(f.targeted), ''],
    ['Delivered', String(f.delivered), share(f.delivered, f.targeted - f.excluded)],
    ['Opened', String(f.opened), share(f.opened, f.delivered)],
    ['Clicked', String(f.clicked), share(f.clicked, f.delivered)],
  ]);
  const failures = r.failuresByReason.length
    ? table(['Failures by reason', 'Type', 'Messages'], r.failuresByReason.map((x) => [x.reason, x.type, String(x.count)]))
    : 'No failure.';
  const domains = table(['Domain', 'Targeted', 'Delivered', 'Failed', 'Opened', 'Clicked'],
    r.byDomain.map((d) => [d.domain, String(d.targeted), String(d.delivered), String(d.failed), String(d.opened), String(d.clicked)]));
  return [`Delivery ${r.deliveryId} "${r.name}" (${f.excluded} excluded at preparation)`, funnel, failures, domains,
    'Charts over time: delivery report <id> --html report.html'].join('\n\n');
}
