/** The one bounded wait of the project: every "give up after N ms" in the adapters goes through here. */
import { MAX_TIMER_MS } from './options.js';

export interface TimeoutOptions {
  /**
   * Unref the timer so that it never keeps the process alive on its own. Use it for waits nobody
   * awaits in the foreground (shutdown flushes, background refreshes); leave it off for a bound on
   * a call a caller awaits, which must fire even when nothing else holds the event loop.
   */
  readonly unref?: boolean | undefined;
}

/**
 * Settles like `work`, or rejects with `onTimeout()` after `ms` (`Infinity` never times out). The
 * losing promise keeps running; its later rejection is swallowed so it never becomes unhandled.
 * The timer is cleared as soon as `work` settles. A finite `ms` beyond what a Node timer holds
 * (`MAX_TIMER_MS`, about 24.8 days) waits that long: Node fires such a timer after 1 ms (with a
 * `TimeoutOverflowWarning`), so `tracer.close({ timeoutMs: Number.MAX_SAFE_INTEGER })` gave up on
 * the collector at once and dropped every queued span.
 */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => Error,
  options: TimeoutOptions = {},
): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        work.catch(() => {});
        reject(onTimeout());
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    if (options.unref) timer.unref();
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Resolves after `ms` (at most `MAX_TIMER_MS`, as `withTimeout`). */
export function sleep(ms: number, options: TimeoutOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.min(ms, MAX_TIMER_MS));
    if (options.unref) timer.unref();
  });
}
