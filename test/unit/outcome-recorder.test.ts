import { outcomeRecorder } from '../../activities/outcome-recorder';
import type { MessageOutcome } from '../../store/sending-logs';

const sent = (id: number): MessageOutcome => ({ id, email: `u${id}@example.com`, status: 'sent' });

describe('the outcome recorder', () => {
  it('writes one chunk at a time, at once when a chunk waits, and everything on drain', async () => {
    const writes: number[][] = [];
    let inWrite = 0;
    let overlapped = false;
    const recorder = outcomeRecorder(async (chunk) => {
      overlapped ||= inWrite > 0;
      inWrite++;
      await new Promise((r) => setTimeout(r, 20));
      writes.push(chunk.map((o) => o.id));
      inWrite--;
    }, { everyMs: 10_000, chunk: 3 });
    for (let id = 1; id <= 7; id++) recorder.add(sent(id));
    expect(recorder.backlog).toBe(7);
    await recorder.drain();
    recorder.stop();
    expect(overlapped).toBe(false);
    expect(writes.flat()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(writes[0]).toEqual([1, 2, 3]); // the first chunk went as soon as it was full
    expect(recorder.backlog).toBe(0);
  });

  it('keeps a failed write: nothing more is written, and drain says why', async () => {
    let calls = 0;
    const recorder = outcomeRecorder(async () => {
      calls++;
      throw new Error('the database gave up');
    }, { everyMs: 10_000, chunk: 2 });
    recorder.add(sent(1));
    recorder.add(sent(2));
    await expect(recorder.drain()).rejects.toThrow('the database gave up');
    recorder.add(sent(3));
    await expect(recorder.drain()).rejects.toThrow('the database gave up');
    recorder.stop();
    expect(calls).toBe(1);
    expect(recorder.backlog).toBe(3); // unrecorded: the next attempt re-queues those rows as possible duplicates
    expect(recorder.failure).toBeInstanceOf(Error);
  });

  it('writes what waits on its timer', async () => {
    const writes: number[] = [];
    const recorder = outcomeRecorder(async (chunk) => void writes.push(...chunk.map((o) => o.id)), { everyMs: 20, chunk: 100 });
    recorder.add(sent(1));
    await new Promise((r) => setTimeout(r, 100));
    recorder.stop();
    expect(writes).toEqual([1]);
  });
});
