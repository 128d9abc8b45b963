// Outcomes of messages handed to SMTP, written to the database one write at a time: every `everyMs`, or
// as soon as `chunk` of them wait. The write itself goes through transient database errors (store/transient.ts);
// an error it cannot get through is kept, and every later write refused: the sending must stop.
import type { MessageOutcome } from '../store/sending-logs';

export interface OutcomeRecorder {
  add(outcome: MessageOutcome): void;
  /** Outcomes not recorded yet (waiting, or in the write under way). */
  readonly backlog: number;
  /** The error that stopped the recording, if any. */
  readonly failure: unknown;
  /** Records every outcome added so far; throws the recording's failure. */
  drain(): Promise<void>;
  stop(): void;
}

export function outcomeRecorder(write: (chunk: MessageOutcome[]) => Promise<void>, options: { everyMs: number; chunk: number }): OutcomeRecorder {
  let waiting: MessageOutcome[] = [];
  let writing: Promise<void> | undefined;
  let inWrite = 0;
  let failure: unknown;
  const kick = (): Promise<void> => {
    if (writing || failure !== undefined || waiting.length === 0) return writing ?? Promise.resolve();
    const chunk = waiting;
    waiting = [];
    inWrite = chunk.length;
    writing = write(chunk).then(
      () => {
        writing = undefined;
        inWrite = 0;
        if (waiting.length >= options.chunk) void kick();
      },
      (e: unknown) => {
        writing = undefined;
        inWrite = 0;
        failure = e;
        waiting = chunk.concat(waiting);
      },
    );
    return writing;
  };
  const timer = setInterval(() => void kick(), options.everyMs);
  return {
    add(outcome) {
      waiting.push(outcome);
      if (waiting.length >= options.chunk) void kick();
    },
    get backlog() {
      return waiting.length + inWrite;
    },
    get failure() {
      return failure;
    },
    async drain() {
      for (;;) {
        await kick();
        if (failure !== undefined) throw failure;
        if (!writing && waiting.length === 0) return;
      }
    },
    stop() {
      clearInterval(timer);
    },
  };
}
