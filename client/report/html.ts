// A delivery's report as one self-contained HTML page: Chart.js inlined, the numbers embedded as JSON, and a
// Content-Security-Policy that lets the page load nothing from anywhere (it opens from a file, offline, in any
// browser). `window.reportReady` turns true once every chart is drawn (the browser test waits for it).
import fs from 'node:fs';
import path from 'node:path';
import type { DeliveryReport } from '../../domain/report';

const CHART_JS = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON inside a script element: "<" escaped, so no text of the data can close the element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

export function reportHtml(report: DeliveryReport): string {
  const title = `Delivery "${report.name}"`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} .sub{color:#666;margin-top:0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem} .card{border:1px solid #ddd;border-radius:8px;padding:1rem}
.card h2{font-size:1rem;margin:0 0 .5rem} .wide{grid-column:1 / -1} canvas{width:100%!important;height:280px!important}
table{border-collapse:collapse;width:100%;font-size:.9rem} td,th{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="sub">${escapeHtml(report.deliveryId)} · report of ${escapeHtml(report.generatedAt.slice(0, 16).replace('T', ' '))} UTC ·
${report.funnel.targeted} targeted, ${report.funnel.excluded} excluded at preparation</p>
<div class="grid">
<div class="card"><h2>Funnel</h2><canvas id="funnel"></canvas></div>
<div class="card"><h2>Failures by reason</h2><canvas id="failures"></canvas></div>
<div class="card wide"><h2>Sending rate (messages per minute)</h2><canvas id="rate"></canvas></div>
<div class="card wide"><h2>Opens and clicks over time</h2><canvas id="engagement"></canvas></div>
<div class="card wide"><h2>Results by recipient domain</h2><canvas id="domains"></canvas><table id="domain-table"></table></div>
</div>
<script type="application/json" id="report-data">${scriptJson(report)}</script>
<script>${fs.readFileSync(CHART_JS, 'utf8')}</script>
<script>${DRAW}</script>
</body></html>
`;
}

/** The page's own script: reads the embedded numbers and draws the charts (no animation: drawn at once). */
const DRAW = `
(function () {
  var r = JSON.parse(document.getElementById('report-data').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  var pct = function (n, of) { return of > 0 ? ' (' + (100 * n / of).toFixed(1) + '%)' : ''; };
  var f = r.funnel;
  new Chart(document.getElementById('funnel'), { type: 'bar', options: { indexAxis: 'y', plugins: { legend: { display: false } } },
    data: { labels: ['Targeted', 'Delivered' + pct(f.delivered, f.targeted - f.excluded), 'Opened' + pct(f.opened, f.delivered), 'Clicked' + pct(f.clicked, f.delivered)],
      datasets: [{ data: [f.targeted, f.delivered, f.opened, f.clicked], backgroundColor: ['#8aa4c8', '#3e7cb1', '#f0a202', '#d95d39'] }] } });
  var failures = r.failuresByReason.length ? r.failuresByReason : [{ reason: 'no failure', type: '', count: 0 }];
  new Chart(document.getElementById('failures'), { type: 'bar', options: { indexAxis: 'y', plugins: { legend: { display: false } } },
    data: { labels: failures.map(function (x) { return x.reason.slice(0, 50) + (x.type ? ' (' + x.type + ')' : ''); }),
      datasets: [{ data: failures.map(function (x) { return x.count; }), backgroundColor: '#c0392b' }] } });
  var t = r.timeline, start = Date.parse(t.start);
  var labels = t.sent.map(function (_, i) { return new Date(start + i * t.bucketMinutes * 60000).toISOString().slice(5, 16).replace('T', ' '); });
  new Chart(document.getElementById('rate'), { type: 'bar', options: { plugins: { legend: { display: false } } },
    data: { labels: labels, datasets: [{ label: 'messages per minute', data: t.sent.map(function (n) { return n / t.bucketMinutes; }), backgroundColor: '#3e7cb1' }] } });
  new Chart(document.getElementById('engagement'), { type: 'line', options: { scales: { y: { beginAtZero: true } } },
    data: { labels: labels, datasets: [
      { label: 'opens', data: t.opens, borderColor: '#f0a202', backgroundColor: '#f0a202' },
      { label: 'clicks', data: t.clicks, borderColor: '#d95d39', backgroundColor: '#d95d39' }] } });
  var d = r.byDomain;
  var series = function (k) { return d.map(function (x) { return x[k]; }); };
  new Chart(document.getElementById('domains'), { type: 'bar',
    data: { labels: series('domain'), datasets: [
      { label: 'delivered', data: series('delivered'), backgroundColor: '#3e7cb1' }, { label: 'failed', data: series('failed'), backgroundColor: '#c0392b' },
      { label: 'opened', data: series('opened'), backgroundColor: '#f0a202' }, { label: 'clicked', data: series('clicked'), backgroundColor: '#d95d39' }] } });
  var table = document.getElementById('domain-table');
  var row = function (cells, tag) { var tr = document.createElement('tr'); cells.forEach(function (c) { var td = document.createElement(tag); td.textContent = String(c); tr.appendChild(td); }); table.appendChild(tr); };
  row(['Domain', 'Targeted', 'Delivered', 'Failed', 'Opened', 'Clicked'], 'th');
  d.forEach(function (x) { row([x.domain, x.targeted, x.delivered, x.failed, x.opened + pct(x.opened, x.delivered), x.clicked + pct(x.clicked, x.delivered)], 'td'); });
  window.reportReady = true;
})();
`;
