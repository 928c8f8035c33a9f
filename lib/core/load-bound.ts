/**
 * The `loadTimeout` bound of loads (`getOrSet`, `getOrSetMany`, early refresh). Its timer is ref'd
 * while the cache is open (it bounds a call a caller awaits, and must fire even when nothing else
 * holds the event loop), and unref'd by `release()` at `close()`: before, a load in flight at
 * `close()` kept the process alive until its `loadTimeout` ran out (a loader that never settled,
 * `loadTimeout: 60_000`: a minute after `close()` resolved). The load still finishes for its
 * callers (its value, or `timeout` at the bound while the process lives for other reasons).
 */
import { MAX_TIMER_MS } from './options.js';

export interface LoadBound {
  /** Settles like `work`, or rejects with `onTimeout()` after `ms` (`Infinity`: never). */
  run<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T>;
  /** From now on no load timer keeps the process alive (those in flight and later ones). */
  release(): void;
}

export function createLoadBound(): LoadBound {
  const timers = new Set<NodeJS.Timeout>();
  let released = false;
  return {
    run(work, ms, onTimeout) {
      if (ms === Number.POSITIVE_INFINITY) return work;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => {
            timers.delete(timer);
            work.catch(() => {});
            reject(onTimeout());
          },
          Math.min(ms, MAX_TIMER_MS),
        );
        if (released) timer.unref();
        else timers.add(timer);
        work.then(
          (v) => {
            clearTimeout(timer);
            timers.delete(timer);
            resolve(v);
          },
          (err) => {
            clearTimeout(timer);
            timers.delete(timer);
            reject(err);
          },
        );
      });
    },
    release() {
      released = true;
      for (const timer of timers) timer.unref();
      timers.clear();
    },
  };
}
