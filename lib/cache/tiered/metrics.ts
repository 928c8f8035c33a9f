/**
 * The coherence side of a tiered cache's `stats()` as metrics, through the core `Metrics` contract
 * (any metrics adapter): invalidations received by source, L1 clears, and the age of the last
 * tracking confirmation. The adapter's `watchCache` already exports hits, misses and errors; this
 * adds what only a tiered cache has. Read at every scrape, never on the cache's hot path.
 */
import type { Metrics } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { unknownKeyMessage } from '../../core/options.js';
import type { TieredCacheStats } from './types.js';

/**
 * The `cache` labels watched on each metrics instance. Two caches under one label wrote the same
 * series: the counters summed and each gauge showed whichever cache was read last, so a cache
 * whose tracking was lost (its `cache_tracking_confirmed` 0) showed 1 for good behind another
 * one. A second watch under a taken label is refused, as `metrics.watchCache` refuses it.
 */
const watching = new WeakMap<object, Map<string, object>>();

/**
 * Registers `cache_invalidations_total{cache,source}` (source `bus`: messages from other
 * instances, one per write, delete or clear however many keys it names; `tracking`: keys the
 * server reported changed, a flush counting one),
 * `cache_l1_clears_total{cache}`, `cache_tracking_slot_moves_total{cache}` (cluster slot owner
 * changes handled by dropping only the moved slots' keys), `cache_tracking_confirmed{cache}` (1 while
 * L1 is in use) and
 * `cache_tracking_confirmed_age_seconds{cache}` (only with tracking, once confirmed), labelled
 * `options.name` (default `tiered`). A second cache under a label already watched on `metrics` is
 * `MetricsError('duplicate_cache')`; a cache whose `stats()` are not a tiered cache's, or options
 * other than `{ name }`, are `MetricsError('invalid_option')`; a name the adapter refuses as a
 * label throws its error (`invalid_label`), and a refused call leaves nothing watched. Returns the function that stops reading the cache (and frees
 * its label and, where the adapter removes series, takes its series out).
 */
export function watchTieredCoherence(
  metrics: Metrics,
  cache: { stats(): TieredCacheStats },
  options: { name?: string | undefined } = {},
): () => void {
  if (typeof options !== 'object' || options === null)
    throw new MetricsError(
      'invalid_option',
      `watchTieredCoherence options must be { name }, received ${typeName(options)}`,
    );
  for (const key of Object.keys(options))
    if (key !== 'name')
      throw new MetricsError(
        'invalid_option',
        `watchTieredCoherence: \`${key}\` ${unknownKeyMessage(key, ['name'])}`,
      );
  // Checked here, not at every scrape: a cache without a tiered cache's stats (none, a memory
  // cache) was taken, and each scrape then logged a failed collect callback (a TypeError, or a
  // gauge set to undefined) while no coherence series was ever exported.
  const stats = (cache as { stats?: unknown } | null | undefined)?.stats;
  if (typeof stats !== 'function')
    throw new MetricsError(
      'invalid_option',
      `watchTieredCoherence needs a tiered cache, received ${typeName(cache)}${typeof cache === 'object' && cache !== null ? ' without stats()' : ''}`,
    );
  const first = (stats as () => unknown).call(cache) as Partial<TieredCacheStats> | null | undefined;
  if (typeof first?.trackingConfirmed !== 'number' || typeof first.invalidationsReceived !== 'number')
    throw new MetricsError(
      'invalid_option',
      `watchTieredCoherence needs a tiered cache: the stats() of this one (${String((cache as { name?: unknown }).name)}) have no trackingConfirmed or invalidationsReceived`,
    );
  const label = options.name ?? 'tiered';
  if (typeof label !== 'string' || label === '')
    throw new MetricsError(
      'invalid_option',
      `watchTieredCoherence: name must be a non-empty string, received ${typeName(label)}`,
    );
  const labels = watching.get(metrics) ?? new Map<string, object>();
  if (labels.has(label))
    throw new MetricsError(
      'duplicate_cache',
      `watchTieredCoherence: a tiered cache labelled "${label}" is already watched on these metrics; pass { name } to tell them apart`,
    );
  const invalidations = metrics.counter({
    name: 'cache_invalidations_total',
    // A write naming keys over 1 MiB arrives in parts, each a message counted: the help said one
    // per write however many keys, and a large deleteMany showed 2 or more.
    help: 'Invalidations a tiered cache received: bus = messages from other instances (one per write, delete or clear however many keys it names, but one per part of at most 1 MiB when its keys take more), tracking = keys the server reported changed',
    labelNames: ['cache', 'source'],
  });
  const clears = metrics.counter({
    name: 'cache_l1_clears_total',
    // Every cause `l1Clears` counts: another instance's clear() arriving on the bus was counted
    // but not named, so an increase with neither a reconnect nor tracking in sight read as a fault.
    help: "Times a tiered cache emptied its L1 for coherence (tracking lost or confirmed, flush, bus reconnect, another instance's clear())",
    labelNames: ['cache'],
  });
  const moves = metrics.counter({
    name: 'cache_tracking_slot_moves_total',
    help: "Cluster slot owner changes a tiered cache handled by dropping only the moved slots' keys from L1",
    labelNames: ['cache'],
  });
  const confirmed = metrics.gauge({
    name: 'cache_tracking_confirmed',
    help: '1 while the L1 of a tiered cache is in use (tracking, if any, confirmed and the bus, if any, subscribed), 0 while it is bypassed',
    labelNames: ['cache'],
  });
  const age = metrics.gauge({
    name: 'cache_tracking_confirmed_age_seconds',
    help: 'Seconds since server-assisted tracking was last confirmed on every connection',
    labelNames: ['cache'],
  });
  // Counters only go up: add what changed since the last scrape.
  let seen = { bus: 0, tracking: 0, clears: 0, moves: 0 };
  const entry = {};
  const removeSeries = () => {
    for (const source of ['bus', 'tracking']) invalidations.remove?.({ cache: label, source });
    for (const metric of [clears, moves, confirmed, age]) metric.remove?.({ cache: label });
  };
  let stop: () => void;
  try {
    // Every counter series exists from the watch on, at 0 (as the span export counters do): one
    // born at its first event (a bus message, an L1 clear) had no earlier sample, so Prometheus's
    // increase() and rate() read that first event as 0 and an alert on it never fired.
    for (const source of ['bus', 'tracking']) invalidations.inc({ cache: label, source }, 0);
    clears.inc({ cache: label }, 0);
    moves.inc({ cache: label }, 0);
    stop = metrics.onCollect(() => {
      const s = cache.stats();
      const now = {
        bus: s.invalidationsReceived,
        tracking: s.trackingInvalidations,
        clears: s.l1Clears,
        moves: s.trackingMoves,
      };
      if (now.bus > seen.bus) invalidations.inc({ cache: label, source: 'bus' }, now.bus - seen.bus);
      if (now.tracking > seen.tracking)
        invalidations.inc({ cache: label, source: 'tracking' }, now.tracking - seen.tracking);
      if (now.clears > seen.clears) clears.inc({ cache: label }, now.clears - seen.clears);
      if (now.moves > seen.moves) moves.inc({ cache: label }, now.moves - seen.moves);
      seen = now;
      confirmed.set({ cache: label }, s.trackingConfirmed);
      if (s.trackingConfirmedAgo >= 0) age.set({ cache: label }, s.trackingConfirmedAgo / 1000);
    });
  } catch (err) {
    // A watch refused here (a name no label can hold, metrics that take no callback any more)
    // leaves nothing: its label was kept as watched, so the same call again was refused as a
    // duplicate_cache instead of naming what is wrong, and series it had made stayed at 0.
    try {
      removeSeries();
    } catch {
      // a label the series refused was never stored
    }
    throw err;
  }
  labels.set(label, entry);
  watching.set(metrics, labels);
  return () => {
    stop();
    // Only this watch's own label: a stale stop must not free it (nor its series) under a later watch.
    if (labels.get(label) !== entry) return;
    labels.delete(label);
    // Its series go with it (where the adapter can remove series, as `watchCache`'s stop does):
    // they stayed at their last values, so a closed cache showed `cache_tracking_confirmed` 1 for
    // good, and caches watched under new names filled the cardinality cap with stopped watches'
    // series until the coherence series of every later cache went to the overflow series.
    removeSeries();
  };
}
