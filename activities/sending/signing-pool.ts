// DKIM signing off the main thread: an RSA-2048 signature costs ~1 ms of CPU (bench/dkim-cost.ts), three times what
// the main thread spends on the rest of a message, so a sending attempt signs in a few worker threads while it goes
// on talking SMTP. A thread that dies fails what it held and every later message: the attempt gives those back
// unsent and is retried (with a new pool), like a relay that went away.
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DkimKey } from '../../domain/dkim-keys';
import type { SignAnswer, SignRequest } from './dkim-thread';

export interface SigningPool {
  /** The message with its DKIM-Signature headers first. */
  sign(raw: string): Promise<string>;
  close(): Promise<void>;
}

/** One thread per core by default: signing is the costliest step, the main thread mostly waits on sockets. */
export function defaultSigningThreads(): number {
  return Math.max(1, availableParallelism());
}

interface Pending { raw: string; resolve: (signed: string) => void; reject: (e: Error) => void }

/** Starts a thread that runs dkim-thread (its TypeScript through tsx when the engine runs from sources). */
function startThread(keys: DkimKey[]): Worker {
  const file = path.join(__dirname, `dkim-thread${path.extname(__filename)}`);
  if (!file.endsWith('.ts')) return new Worker(file, { workerData: { keys } });
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).require(${JSON.stringify(file)}, ${JSON.stringify(file)})`;
  return new Worker(code, { eval: true, workerData: { keys } });
}

export function signingPool(keys: DkimKey[], threads = defaultSigningThreads()): SigningPool {
  let nextId = 0;
  let broken: Error | undefined;
  let closing = false;
  const lanes = Array.from({ length: threads }, () => {
    const pending = new Map<number, Pending>();
    const worker = startThread(keys);
    worker.unref(); // a pool left open never keeps the process alive
    const fail = (e: Error) => {
      broken ??= closing ? new Error('the DKIM signing pool is closed') : new Error(`a DKIM signing thread stopped: ${e.message}`);
      for (const p of pending.values()) p.reject(broken);
      pending.clear();
    };
    worker.on('message', (answer: SignAnswer) => {
      const p = pending.get(answer.id);
      if (!p) return;
      pending.delete(answer.id);
      if ('error' in answer) p.reject(new Error(answer.error));
      else p.resolve(answer.signatures + p.raw);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return { worker, pending };
  });

  return {
    sign(raw) {
      if (broken) return Promise.reject(broken);
      // The thread with the fewest messages waiting.
      const lane = lanes.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        lane.pending.set(id, { raw, resolve, reject });
        lane.worker.postMessage({ id, raw } satisfies SignRequest);
      });
    },
    async close() {
      closing = true;
      await Promise.all(lanes.map((l) => l.worker.terminate()));
    },
  };
}
