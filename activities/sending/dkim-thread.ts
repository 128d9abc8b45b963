// A signing thread of the pool (signing-pool.ts): given the keys once, then messages; answers each with its
// DKIM-Signature headers, or the error.
import { parentPort, workerData } from 'node:worker_threads';
import type { DkimKey } from '../../domain/dkim-keys';
import { dkimSignatures } from './dkim';
import { keepParsedPrivateKeys } from './parsed-keys';

keepParsedPrivateKeys();

export interface SignRequest { id: number; raw: string }
export type SignAnswer = { id: number; signatures: string } | { id: number; error: string };

const keys = (workerData as { keys: DkimKey[] }).keys;
parentPort!.on('message', ({ id, raw }: SignRequest) => {
  dkimSignatures(keys, raw).then(
    (signatures) => parentPort!.postMessage({ id, signatures } satisfies SignAnswer),
    (e: Error) => parentPort!.postMessage({ id, error: e.message } satisfies SignAnswer),
  );
});
