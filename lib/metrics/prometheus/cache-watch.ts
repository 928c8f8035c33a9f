/**
 * `watchCache`: caches are never touched per hit; each scrape reads `cache.stats()` once per
 * watched cache into the cache metrics, and unwatching removes the cache's series (freeing their
 * slots under the cardinality cap).
 */
import type { Cache, CacheStats, Logger } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { unknownKeyIssues } from '../../core/options.js';
import type { FrameworkParts } from './framework.js';
import { labelValueTooLong, MAX_LABEL_VALUE_BYTES, OVERFLOW_VALUE } from './series.js';
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
  /** By label; one entry object per registration (see the stop function in `watch`). */
  const watched = new Map<string, { cache: Watched }>();
  /**
   * The kinds of unusable stats each cache was warned about: one warning per cache, kind and watch
   * (a stats() that throws used to be warned at every scrape — every second under Prometheus — and
   * one returning nothing never: its series just stopped moving).
   */
  const warned = new Map<Watched, Set<string>>();
  /** Caches already warned about series beyond the cardinality cap (one warning per watch). */
  const capped = new Set<Watched>();
  const warnOnce = (
    label: string,
    cache: Watched,
    kind: 'count' | 'async' | 'none' | 'threw',
    message: string,
    extra: Record<string, unknown>,
  ) => {
    const kinds = warned.get(cache) ?? new Set<string>();
    if (kinds.has(kind)) return;
    kinds.add(kind);
    warned.set(cache, kinds);
    logger.warn(`${message} (warned once per cache)`, { cache: label, ...extra });
  };

  /**
   * A count the cache reported, or `undefined` when it is not one (NaN, negative, infinite, not a
   * number): a counter must never show such a value, so the series keeps its last good one.
   */
  const count = (label: string, cache: Watched, field: string, v: unknown): number | undefined => {
    if (typeof v === 'number' && v >= 0 && v !== Number.POSITIVE_INFINITY) return v;
    // `String(v)` throws for a null-prototype object, a revoked Proxy or a throwing `toString`:
    // that error left the scrape, so every /metrics answer failed while the cache reported it.
    let shown: string;
    try {
      shown = String(v);
    } catch {
      shown = `a value of type ${typeName(v)}`;
    }
    warnOnce(
      label,
      cache,
      'count',
      `cache "${label}" reported ${field} = ${shown}, not a count; the series keeps its last value`,
      { field },
    );
    return undefined;
  };

  const readOne = (label: string, cache: Watched) => {
    // Whatever goes wrong, the cache's series keep their last good values (none before a first
    // good read): the counters are totals, so a scrape that cannot read them must not reset them.
    // No stats() at all is a choice (a memory cache with `metrics: false`, which
    // createAppFromConfig still watches): no series, and nothing to warn about.
    if (typeof cache.stats !== 'function') return;
    let raw: unknown;
    try {
      raw = cache.stats();
    } catch (err) {
      warnOnce(
        label,
        cache,
        'threw',
        `reading stats of cache "${label}" failed; its series keep their last values`,
        { error: err },
      );
      return;
    }
    if (typeof raw === 'object' && raw !== null && typeof (raw as PromiseLike<unknown>).then === 'function') {
      warnOnce(label, cache, 'async', `stats() of cache "${label}" must return the counts synchronously`, {});
      return;
    }
    if (typeof raw !== 'object' || raw === null) {
      warnOnce(
        label,
        cache,
        'none',
        `stats() of cache "${label}" returned ${raw === null ? 'null' : typeof raw}, not the counts; its series keep their last values`,
        {},
      );
      return;
    }
    const s = raw as CacheStats;
    // A count with no room under the cardinality cap is left out (false), one warning per watch:
    // folded, it overwrote the overflow series with this cache's total and counted one drop per
    // scrape, for as long as the cache was watched.
    let fits = true;
    const hits = count(label, cache, 'hits', s.hits);
    const misses = count(label, cache, 'misses', s.misses);
    if (hits !== undefined) fits = f.cacheRequests.setTotal({ cache: label, result: 'hit' }, hits) && fits;
    if (misses !== undefined)
      fits = f.cacheRequests.setTotal({ cache: label, result: 'miss' }, misses) && fits;
    if (f.cacheHitRate && typeof s.hitRatio === 'number' && s.hitRatio >= 0 && s.hitRatio <= 1)
      fits = f.cacheHitRate.setIfRoom({ cache_type: label }, s.hitRatio) && fits;
    if (s.keysEvicted !== undefined) {
      const v = count(label, cache, 'keysEvicted', s.keysEvicted);
      if (v !== undefined) fits = f.cacheEvictions.setTotal({ cache: label }, v) && fits;
    }
    if (s.errors !== undefined) {
      const v = count(label, cache, 'errors', s.errors);
      if (v !== undefined) fits = f.cacheErrors.setTotal({ cache: label }, v) && fits;
    }
    if (!fits && !capped.has(cache)) {
      capped.add(cache);
      logger.warn(
        `cache "${label}": some of its series are beyond the metric's cardinality cap (maxSeriesPerMetric) and are not exposed (warned once per watch)`,
        { cache: label },
      );
    }
  };

  const removeSeries = (label: string) => {
    for (const result of ['hit', 'miss']) f.cacheRequests.series.remove({ cache: label, result });
    f.cacheHitRate?.series.remove({ cache_type: label });
    f.cacheEvictions.series.remove({ cache: label });
    f.cacheErrors.series.remove({ cache: label });
  };

  return {
    watch(cache, o = {}) {
      // Checked here: `watchCache(cache, { nmae: 'users' })` was taken and labelled the series with
      // the cache's default name (a second cache of that kind then got duplicate_cache, "pass
      // { name }"), and no cache or null options threw a TypeError.
      if (typeof cache !== 'object' || cache === null)
        throw new MetricsError('invalid_option', `watchCache needs a cache, received ${typeName(cache)}`);
      if (typeof o !== 'object' || o === null)
        throw new MetricsError(
          'invalid_option',
          `watchCache options must be { name }, received ${typeName(o)}`,
        );
      const unknown = unknownKeyIssues(o, ['name']);
      if (unknown.length > 0)
        throw new MetricsError(
          'invalid_option',
          `watchCache options: ${unknown.map((i) => `${i.path} ${i.message}`).join('; ')}`,
        );
      const label = o.name ?? cache.name;
      if (typeof label !== 'string' || label === '')
        throw new MetricsError(
          'invalid_option',
          'watchCache needs a cache name (cache.name or options.name)',
        );
      // Checked here, as the series would check it at every scrape: a name no label can hold
      // used to fail each scrape (500) for as long as the cache was watched.
      if (!(label as string & { isWellFormed(): boolean }).isWellFormed() || labelValueTooLong(label))
        throw new MetricsError(
          'invalid_label',
          `watchCache: the cache name is the "cache" label and must be well-formed UTF-16 of at most ${MAX_LABEL_VALUE_BYTES} bytes (UTF-8), received ${Buffer.byteLength(label)} bytes`,
        );
      if (label === OVERFLOW_VALUE)
        throw new MetricsError(
          'invalid_label',
          `watchCache: the cache name is the "cache" label, and "${OVERFLOW_VALUE}" is reserved for the cardinality cap's overflow series`,
        );
      if (watched.has(label))
        throw new MetricsError(
          'duplicate_cache',
          `a cache named "${label}" is already watched; pass { name } to tell them apart`,
        );
      // The stop function belongs to this registration, not to the cache: a stale one (from a
      // watch already stopped, called again) used to stop a later watch of the same cache under
      // the same name and remove its series, as onCollect's per-registration unsubscribe does not.
      const entry = { cache };
      watched.set(label, entry);
      return () => {
        if (watched.get(label) !== entry) return;
        watched.delete(label);
        warned.delete(cache);
        capped.delete(cache);
        removeSeries(label);
      };
    },
    read() {
      for (const [label, { cache }] of watched) readOne(label, cache);
    },
    clear: () => watched.clear(),
  };
}
