import fs from 'node:fs';
import path from 'node:path';
import { TEST_DATA } from '../helpers/paths';
import { freePort } from '../../stack/dev-server';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';

const ARTIFACTS = path.join(TEST_DATA, 'artifacts');

describe('worker metrics (Prometheus)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ inProcessWorker: false, refuseRecipient: (a) => (a.startsWith('user1@') ? { code: 550, message: '5.1.1 user unknown' } : undefined) });
  });
  afterAll(async () => stack?.close());

  it('exposes the SDK metrics and the messages sent and failed', async () => {
    const port = await freePort();
    stack.spawnWorker({ METRICS_PORT: String(port) });
    await seedProfiles(stack.db, manyProfiles(12));
    const outcome = await (await stack.start(baseSpec())).result();
    expect(outcome.kpis).toMatchObject({ sent: 11, failed: 1 });

    let text = '';
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    await eventually(async () => {
      text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      return value('delivery_messages_sent') === 11;
    }, 20_000, 'delivery_messages_sent = 11');
    expect(value('delivery_messages_failed')).toBe(1);
    expect(text).toMatch(/^temporal_activity_execution_latency/m); // the SDK's own metrics, same endpoint
    expect(text).toMatch(/^temporal_workflow_completed/m);
    // Every metric the Grafana dashboard queries is one this worker serves.
    const dashboard = fs.readFileSync(path.join(__dirname, '..', '..', 'monitoring', 'grafana', 'dashboards', 'email-deliveries.json'), 'utf8');
    const queried = new Set([...dashboard.matchAll(/\b((?:delivery|temporal)_[a-z_]+)/g)].map((m) => m[1]));
    expect(queried.size).toBeGreaterThanOrEqual(6);
    for (const metric of queried) expect(`${metric}: ${new RegExp(`^${metric}[{ ]`, 'm').test(text)}`).toBe(`${metric}: true`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, 'worker-metrics.txt'), text);
  });
});
