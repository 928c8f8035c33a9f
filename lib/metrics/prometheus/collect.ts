/** The collect callbacks (`onCollect`): run before every render, a failing one logged and skipped. */
import type { Logger } from '../../core/contracts.js';
import { MetricsError } from '../../core/errors.js';

export interface Collectors {
  /** Adds `fn`; the returned function removes this registration only. */
  add(fn: () => void | Promise<void>): () => void;
  /** Runs every callback concurrently; resolves when all settled. */
  run(): Promise<void>;
  clear(): void;
}

export function createCollectors(logger: Pick<Logger, 'warn'>): Collectors {
  const collectors = new Set<() => void | Promise<void>>();
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
    async run() {
      const results = await Promise.allSettled([...collectors].map(async (fn) => fn()));
      for (const r of results) {
        if (r.status === 'rejected') logger.warn('a metrics collect callback failed', { error: r.reason });
      }
    },
    clear: () => collectors.clear(),
  };
}
