// The Grafana dashboard docker-compose provisions: checked against Grafana's own published dashboard schema
// (@grafana/schema's Dashboard type, by `npm run typecheck`), then what the type cannot say: panels placed on the
// 24-column grid without overlapping, every query on the provisioned data source, and compose mounting the files
// Grafana reads. That each metric it queries is one the worker serves is checked on a real worker's scrape
// (test/integration/metrics.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Dashboard, Panel } from '@grafana/schema';
import dashboardJson from '../../monitoring/grafana/dashboards/email-deliveries.json';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
// Grafana's schema: a field of the wrong type or shape fails the typecheck of this file.
const dashboard: Dashboard = dashboardJson;

describe('the Grafana dashboard', () => {
  const panels = (dashboard.panels ?? []) as Panel[];

  it('is a dashboard Grafana loads: uid, title, panels with unique ids on the grid, none overlapping', () => {
    expect(dashboard).toMatchObject({ uid: 'email-deliveries', title: 'Email deliveries' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(panels.length).toBeGreaterThanOrEqual(6);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      const g = p.gridPos!;
      expect(g.x + g.w).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      expect(['timeseries', 'stat']).toContain(p.type);
      expect(p.targets?.length).toBeGreaterThan(0);
    }
  });

  it('queries the data source provisioned next to it, in PromQL that names metrics', () => {
    const source = parse(read('monitoring/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    const [prometheus] = source.datasources;
    expect(prometheus).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        expect(t.datasource).toEqual({ type: 'prometheus', uid: prometheus.uid });
        expect((t as { expr?: string }).expr).toMatch(/\b(delivery|temporal)_[a-z_]+/);
      }
    }
  });

  it('is provisioned by docker-compose: Prometheus scrapes the worker, Grafana mounts the provisioning and the dashboard', () => {
    const compose = parse(read('docker-compose.yml')) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string> }> };
    const { prometheus, grafana, worker } = compose.services;
    expect(worker.environment?.METRICS_PORT).toBe('9464');
    expect(prometheus.volumes).toContain('./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const scrape = parse(read('monitoring/prometheus.yml')) as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> };
    expect(scrape.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets))).toContain('worker:9464');
    expect(grafana.volumes).toEqual(expect.arrayContaining([
      './monitoring/grafana/provisioning:/etc/grafana/provisioning:ro', './monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro',
    ]));
    const provider = parse(read('monitoring/grafana/provisioning/dashboards/email-deliveries.yml')) as { providers: Array<{ options: { path: string } }> };
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    expect(grafana.environment?.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  });
});
