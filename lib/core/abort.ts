/**
 * Waits on a caller's `AbortSignal` that may be long-lived (an app-wide shutdown signal) and shared
 * by many calls in flight at once: one `abort` listener on it for all of them, removed with the
 * last. A listener per call put an 11th on the signal as soon as 11 calls ran at once, and Node
 * printed a MaxListenersExceededWarning ("possible EventTarget memory leak") for it.
 */

interface Waiters {
  readonly calls: Set<{ readonly fn: () => void }>;
  readonly onAbort: () => void;
}

const waitersOf = new WeakMap<AbortSignal, Waiters>();

/**
 * Calls `fn` once when `signal` aborts (not when it is aborted already: check `signal.aborted`
 * first); returns the function that stops waiting, idempotent. A `fn` that throws does not keep
 * the others from running: its error is rethrown on its own tick, as a listener's would be.
 */
export function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  let waiters = waitersOf.get(signal);
  if (!waiters) {
    const calls = new Set<{ readonly fn: () => void }>();
    const onAbort = () => {
      waitersOf.delete(signal);
      const all = [...calls];
      calls.clear();
      for (const call of all) {
        try {
          call.fn();
        } catch (err) {
          process.nextTick(() => {
            throw err;
          });
        }
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    waiters = { calls, onAbort };
    waitersOf.set(signal, waiters);
  }
  const mine = waiters;
  const call = { fn };
  mine.calls.add(call);
  return () => {
    if (!mine.calls.delete(call) || mine.calls.size > 0) return;
    signal.removeEventListener('abort', mine.onAbort);
    if (waitersOf.get(signal) === mine) waitersOf.delete(signal);
  };
}
