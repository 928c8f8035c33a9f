/**
 * The wiring of the tiered cache: one shared context, the read, batch and write paths over it,
 * the bus listener, and `close()`. What each part does is listed in index.ts.
 */
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
        const errors: unknown[] = [];
        const closePart = async (part: { close?(): Promise<void> } | undefined) => {
          try {
            await part?.close?.();
          } catch (err) {
            errors.push(err);
          }
        };
        // The tracker and the bus close beside the leases and L2: each holds connections of its
        // own (the tracker only asks L2's connection to stop tracking, at once when its close
        // begins), and against a hung Redis each waits out its own bounds (a QUIT ~1 s; L2 also
        // its commands in flight, up to its commandTimeout). One after the other, those waits
        // added up (2.1 s for an idle cache with a bus against a paused Redis, 1.1 s now:
        // close-parallel.test.ts).
        const others = Promise.all([closePart(o.tracking), closePart(o.bus)]);
        // Before L2 closes: a lease left in Redis would make every other instance missing that
        // key wait `leaseWait` (or the lease's TTL) for a load that is not coming.
        await ctx.leases.releaseAll();
        guarded.drain();
        await Promise.all([others, closePart(o.l2)]);
        await closePart(o.l1);
        if (errors.length > 0) throw new AggregateError(errors, 'tiered cache: close failed');
      })();
      return closing;
    },
  };
}
