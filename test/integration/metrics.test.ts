import { freePort } from '../../stack/dev-server';
import { baseSpec, eventually, manyProfiles, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';

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
  });
});
