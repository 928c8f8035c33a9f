/**
 * Singleflight: concurrent calls for one key share one execution. The entry is dropped as soon
 * as the call settles, so an error is delivered to every waiter and never cached.
 */
export interface Singleflight<T> {
  /** Runs `fn` unless a call for `key` is already in flight, in which case it joins that call. */
  do(key: string, fn: () => T | Promise<T>): Promise<T>;
  /**
   * Detaches the call in flight for `key` (every key when omitted): it runs on for the callers that
   * joined it, but later callers start a new one. Caches call it when the key is written, so that
   * nobody who starts reading after a write gets a value loaded before it.
   */
  forget(key?: string): void;
  /** Number of calls in flight (for tests and stats). */
  readonly size: number;
}

export function createSingleflight<T>(): Singleflight<T> {
  const inflight = new Map<string, Promise<T>>();
  return {
    do(key, fn) {
      const running = inflight.get(key);
      if (running) return running;
      // Promise.resolve().then() also turns a synchronous throw into a rejection shared by all.
      const call: Promise<T> = Promise.resolve()
        .then(fn)
        .finally(() => {
          if (inflight.get(key) === call) inflight.delete(key);
        });
      inflight.set(key, call);
      return call;
    },
    forget(key) {
      if (key === undefined) inflight.clear();
      else inflight.delete(key);
    },
    get size() {
      return inflight.size;
    },
  };
}
