/**
 * The wiring of the tiered cache: one shared context, the read, batch and write paths over it,
 * the bus listener, and `close()`. What each part does is listed in index.ts.
 */
import { CloseError, HyperionError } from '../../core/errors.js';
import { createBatchPath } from './batch.js';
import { createContext } from './context.js';
import { listen } from './invalidation.js';
import { resolveOptions } from './options.js';
import { createReadPath } from './read.js';
import { snapshot } from './stats.js';
import { attachTracking } from './tracking.js';
import type { TieredCache, TieredCacheOptions } from './types.js';
import { createWritePath } from './write.js';

/** Builds a tiered cache over `l1` and `l2`; see `TieredCacheOptions` for every option and its default. */
export function createTieredCache(options: TieredCacheOptions): TieredCache {
  const ctx = createContext(resolveOptions(options));
  const { o, instanceId, breaker, counters, state, guarded } = ctx;
  const read = createReadPath(ctx);
  const batch = createBatchPath(ctx, read.bounded);
  const write = createWritePath(ctx);
  const bus = listen(ctx);
  const tracking = attachTracking(ctx);
  const ready = Promise.all([bus.ready, tracking.ready]).then(() => {});
  ready.catch(() => {});
  let closing: Promise<void> | undefined;

  return {
    name: 'tiered',
    instanceId,
    ready,
    get: read.get,
    getWithMeta: read.getWithMeta,
    set: write.set,
    setMany: write.setMany,
    delete: write.delete,
    deleteMany: write.deleteMany,
    has: read.has,
    getMany: batch.getMany,
    clear: write.clear,
    getOrSet: read.getOrSet,
    getOrSetWithMeta: read.getOrSetWithMeta,
    getOrSetMany: batch.getOrSetMany,
    breakerState: () => breaker.state(),
    stats: () => snapshot(counters, breaker.opens, tracking.status()),

    close() {
      closing ??= (async () => {
        state.closed = true;
        read.releaseLoads();
        read.wakeWaiters();
        tracking.stop();
        bus.unsubscribe();
        // A part that fails to close (an L2, bus or tracker of your own whose close() rejects) is
        // reported as app.close() reports a disposer: a CloseError (code `close_failed`) naming the
        // parts, each entry a `dispose_failed` HyperionError whose cause is what the part threw.
        // It was a bare AggregateError: no `code`, and a message that did not say which part.
        const errors: HyperionError[] = [];
        const failed: string[] = [];
        const closePart = async (name: string, part: { close?(): Promise<void> } | undefined) => {
          try {
            await part?.close?.();
          } catch (err) {
            failed.push(name);
            errors.push(
              new HyperionError('dispose_failed', `tiered cache: closing ${name} failed`, { cause: err }),
            );
          }
        };
        // The tracker and the bus close beside the leases and L2: each holds connections of its
        // own (the tracker only asks L2's connection to stop tracking, at once when its close
        // begins), and against a hung Redis each waits out its own bounds (a QUIT ~1 s; L2 also
        // its commands in flight, up to its commandTimeout). One after the other, those waits
        // added up (2.1 s for an idle cache with a bus against a paused Redis, 1.1 s now:
        // close-parallel.test.ts).
        const others = Promise.all([closePart('tracking', o.tracking), closePart('bus', o.bus)]);
        // Before L2 closes: a lease left in Redis would make every other instance missing that
        // key wait `leaseWait` (or the lease's TTL) for a load that is not coming.
        await ctx.leases.releaseAll();
        guarded.drain();
        await Promise.all([others, closePart('l2', o.l2)]);
        await closePart('l1', o.l1);
        if (errors.length > 0)
          throw new CloseError(errors, `tiered cache: close failed: ${failed.join(', ')}`);
      })();
      return closing;
    },
  };
}
