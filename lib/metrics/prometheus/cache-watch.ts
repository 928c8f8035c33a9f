/**
 * `watchCache`: caches are never touched per hit; each scrape reads `cache.stats()` once per
 * watched cache into the cache metrics, and unwatching removes the cache's series (freeing their
 * slots under the cardinality cap).
 */
import type { Cache, Logger } from '../../core/contracts.js';
import { MetricsError } from '../../core/errors.js';
import type { FrameworkParts } from './framework.js';
import type { WatchCacheOptions } from './types.js';

type Watched = Pick<Cache, 'name' | 'stats'>;

export interface CacheWatch {
  /** Starts reading `cache` at every scrape; returns the unwatch function. */
  watch(cache: Watched, options?: WatchCacheOptions): () => void;
  /** Reads every watched cache into the metrics (called before each render). */
  read(): void;
  /** Forgets every cache (on close); their series stay until removed. */
  clear(): void;
}

export function createCacheWatch(
  f: Pick<FrameworkParts, 'cacheRequests' | 'cacheHitRate' | 'cacheEvictions' | 'cacheErrors'>,
  logger: Pick<Logger, 'warn'>,
): CacheWatch {
  const watched = new Map<string, Watched>();

  const readOne = (label: string, cache: Watched) => {
    let s: ReturnType<NonNullable<Cache['stats']>> | undefined;
    try {
      s = cache.stats?.();
    } catch (err) {
      logger.warn(`reading stats of cache "${label}" failed`, { cache: label, error: err });
      return;
    }
    if (!s) return;
    f.cacheRequests.setTotal({ cache: label, result: 'hit' }, s.hits);
    f.cacheRequests.setTotal({ cache: label, result: 'miss' }, s.misses);
    f.cacheHitRate?.set({ cache_type: label }, s.hitRatio);
    if (s.keysEvicted !== undefined) f.cacheEvictions.setTotal({ cache: label }, s.keysEvicted);
    if (s.errors !== undefined) f.cacheErrors.setTotal({ cache: label }, s.errors);
  };

  const removeSeries = (label: string) => {
    for (const result of ['hit', 'miss']) f.cacheRequests.series.remove({ cache: label, result });
    f.cacheHitRate?.series.remove({ cache_type: label });
    f.cacheEvictions.series.remove({ cache: label });
    f.cacheErrors.series.remove({ cache: label });
  };

  return {
    watch(cache, o = {}) {
      const label = o.name ?? cache.name;
      if (typeof label !== 'string' || label === '')
        throw new MetricsError(
          'invalid_option',
          'watchCache needs a cache name (cache.name or options.name)',
        );
      if (watched.has(label))
        throw new MetricsError(
          'duplicate_cache',
          `a cache named "${label}" is already watched; pass { name } to tell them apart`,
        );
      watched.set(label, cache);
      return () => {
        if (watched.get(label) !== cache) return;
        watched.delete(label);
        removeSeries(label);
      };
    },
    read() {
      for (const [label, cache] of watched) readOne(label, cache);
    },
    clear: () => watched.clear(),
  };
}
