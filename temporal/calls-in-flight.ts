// Temporal calls still in progress, so that whoever owns the client can wait for them before closing its
// connection: a call in gRPC retry (the server away) whose channel was closed throws from a timer, an
// uncaught error. Used by the worker's progress signals, the bounce listener and the tracking server.
export interface CallsInFlight {
  track<T>(call: Promise<T>): Promise<T>;
  /** Resolves once every call tracked so far has settled, however it ended. */
  settled(): Promise<void>;
}

export function callsInFlight(): CallsInFlight {
  const calls = new Set<Promise<unknown>>();
  return {
    track(call) {
      calls.add(call);
      const forget = () => calls.delete(call);
      void call.then(forget, forget);
      return call;
    },
    settled: () => Promise.allSettled(calls).then(() => undefined),
  };
}
