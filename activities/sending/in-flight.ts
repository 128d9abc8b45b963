// The messages of an attempt handed to SMTP and not yet answered. Waiting for "one of them" is one waiter woken by
// whichever settles first: Promise.race over the set would subscribe to every message in flight for each message
// handed out (80 reactions a message at full speed, the worker's largest item of promise bookkeeping).

export class InFlight {
  private readonly sends = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  /** A send that threw (not an SMTP outcome: a bug): the attempt fails with it once the others settled. */
  private error: { error: unknown } | undefined;

  get size(): number {
    return this.sends.size;
  }

  /** Tracks one send; `onError` runs when it throws (the attempt stops its hand-out). */
  add(send: Promise<void>, onError: () => void): void {
    const settled = () => {
      this.sends.delete(tracked);
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    const tracked: Promise<void> = send.then(settled, (error: unknown) => {
      this.error ??= { error };
      onError();
      settled();
    });
    this.sends.add(tracked);
  }

  /** Resolves when any message in flight settles (call it only while some are). */
  oneSettled(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Waits for every message in flight; throws what a send threw, if one did. */
  async all(): Promise<void> {
    await Promise.all(this.sends);
    if (this.error) throw this.error.error;
  }
}
