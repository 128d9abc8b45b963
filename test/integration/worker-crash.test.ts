import { once } from 'node:events';
import { kpisQuery } from '../../workflows/messages';
import { baseSpec, killedWorkerSettled, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';

describe('a worker killed mid-send', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ inProcessWorker: false });
  });
  afterAll(async () => stack?.close());

  it('is restarted and completes the delivery with no lost message, duplicates only from in-flight messages', async () => {
    const total = 300;
    await seedProfiles(stack.db, manyProfiles(total));
    let worker = stack.spawnWorker();
    const handle = await stack.start(baseSpec({ messagesPerSecond: 60 }));
    await waitForState(handle, 'sending', 60_000);
    await stack.sink.waitForCount(60);

    worker.kill('SIGKILL');
    await once(worker, 'exit');
    await killedWorkerSettled(stack.db);
    const atKill = stack.sink.messages.length;
    const inFlightAtKill = await stack.db.sendingLog.count({ where: { status: 'sending' } });
    expect(atKill).toBeLessThan(total);

    worker = stack.spawnWorker();
    const outcome = await handle.result();
    expect(outcome.state).toBe('sent');
    expect(outcome.kpis).toMatchObject({ targeted: total, toDeliver: total, sent: total, failed: 0, pending: 0 });

    // Nothing lost: every recipient received the message.
    const counts = stack.sink.countByRecipient();
    expect(counts.size).toBe(total);
    // Duplicates are limited to messages in flight at the kill, and counted.
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(inFlightAtKill);
    expect(outcome.kpis.possibleDuplicates).toBe(inFlightAtKill);
    expect(await handle.query(kpisQuery)).toMatchObject({ sent: total, possibleDuplicates: inFlightAtKill });
    expect(await stack.db.sendingLog.count({ where: { status: 'sent' } })).toBe(total);
    worker.kill('SIGTERM');
  });
});
