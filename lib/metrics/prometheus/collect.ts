/**
 * The collect callbacks (`onCollect`): run before every render, each bounded by a timeout; a
 * failing or timed-out one is logged (rate-limited per callback, see ./warn-limit.ts) and skipped.
 */
import { MetricsError } from '../../core/errors.js';
import { withTimeout } from '../../core/timeout.js';
import { conditionOf, type WarnLimiter } from './warn-limit.js';

export interface Collectors {
  /** Adds `fn`; the returned function removes this registration only. */
  add(fn: () => void | Promise<void>): () => void;
  /**
   * Runs every callback concurrently; resolves when each settled or timed out. A call while a run
   * is in progress joins it: concurrent scrapes share one run of each callback. `boundMs` (at most
   * the adapter's `timeoutMs`) bounds each callback of a run it starts; a run joined keeps its own.
   */
  run(boundMs?: number): Promise<void>;
  clear(): void;
}

export function createCollectors(warnings: WarnLimiter, timeoutMs = 5000): Collectors {
  const collectors = new Set<() => void | Promise<void>>();
  /** The run in progress, which scrapes arriving meanwhile join. */
  let running: Promise<void> | undefined;
  return {
    add(fn) {
      if (typeof fn !== 'function') throw new MetricsError('invalid_option', 'onCollect expects a function');
      // Wrap so the same function registered twice unsubscribes independently.
      const entry = () => fn();
      collectors.add(entry);
      return () => {
        collectors.delete(entry);
      };
    },
    run(boundMs = timeoutMs) {
      // Shared: 50 concurrent scrapes (a burst, several Prometheus replicas, anyone who can reach
      // the endpoint) ran a pool-stats query callback 50 times at once.
      running ??= runAll(Math.min(boundMs, timeoutMs)).finally(() => {
        running = undefined;
      });
      return running;
    },
    clear: () => collectors.clear(),
  };

  async function runAll(boundMs: number): Promise<void> {
    const timedOut = () =>
      new MetricsError('collect_timeout', `a collect callback did not finish within ${boundMs} ms`);
    // Unref'd: a scrape in progress is no reason to keep the process alive.
    const entries = [...collectors];
    const results = await Promise.allSettled(
      entries.map((fn) => withTimeout(Promise.resolve().then(fn), boundMs, timedOut, { unref: true })),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected')
        warnings.warn(entries[i]!, conditionOf(r.reason), 'a metrics collect callback failed', {
          error: r.reason,
        });
    });
  }
}
