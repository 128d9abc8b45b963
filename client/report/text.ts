// A delivery's report in a terminal: the funnel, failures by reason and results by domain (charts: --html).
import type { DeliveryReport } from '../../domain/report';
import { table } from '../format';

const sign = (n: number) => (n > 0 ? `+${n}` : String(n));
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
  const sendTime = r.sendTime ? [table(['Send time', 'Delivered', 'Opened', 'Clicked'], r.sendTime.classes.map((c) => [
    c.class === 'timed' ? 'all but the holdout' : c.class, String(c.delivered), `${c.opened} (${share(c.opened, c.delivered)})`, `${c.clicked} (${share(c.clicked, c.delivered)})`,
  ])) + (r.sendTime.lift ? `\nLift over the holdout: opens ${sign(r.sendTime.lift.opens)}%, clicks ${sign(r.sendTime.lift.clicks)}%` : '\nLift: not yet (the holdout has no open)')] : [];
  return [`Delivery ${r.deliveryId} "${r.name}" (${f.excluded} excluded at preparation)`, funnel, failures, domains, ...sendTime,
    'Charts over time: delivery report <id> --html report.html'].join('\n\n');
}
