/**
 * Read-through caching for the demo handlers: one span per lookup telling whether it hit and on
 * which layer (`cache.hit`, `cache.layer`), the loader (the database) running as its child.
 */
import type { AppContext } from '../lib/core/context.js';
import type { Bytes, Cache, Loader, Span } from '../lib/core/contracts.js';
import { withSpan } from '../lib/core/span.js';
import { HttpError } from './http.js';

/** The caches of a service: `cache` is what reads go through (tiered, or the L1 alone). */
export interface CacheLayers {
  readonly cache: Cache;
  /** The in-process L1. */
  readonly l1: Cache;
  /** The shared L2 (Redis, or a second memory cache when no Redis is configured). */
  readonly l2?: Cache | undefined;
}

/** The tiered cache's `getOrSetWithMeta`, used when present to tell which layer answered. */
interface MetaCache {
  getOrSetWithMeta(
    key: string,
    loader: Loader<Bytes>,
    ttl?: number,
  ): Promise<{ value: Bytes; source: 'l1' | 'l2' | 'loader' | 'stale'; stale: boolean }>;
}

/** Where a value came from. */
export type Source = 'l1' | 'l2' | 'origin';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * `getOrSet` of a JSON value through `layers.cache`, inside a span named `cache <kind>`. The span
 * carries `cache.key`, `cache.hit` and `cache.layer` (`l1`, `l2`, or `none` when the loader ran;
 * a stale copy served in the grace window is marked `cache.stale`). A value that no longer
 * decodes is dropped and reloaded once.
 */
export async function readThrough<T>(
  ctx: AppContext,
  layers: CacheLayers,
  kind: string,
  key: string,
  ttlMs: number,
  load: (ctx: AppContext) => Promise<T>,
): Promise<{ value: T; source: Source }> {
  const outcome = await withSpan(
    ctx,
    `cache ${kind}`,
    async (spanCtx, span) => {
      try {
        return { found: await lookup(spanCtx, span) };
      } catch (err) {
        // The loader's answer for a client error (a user that does not exist: 404): the lookup
        // worked, it found nothing. It used to leave an error span without cache.hit/cache.layer.
        if (err instanceof HttpError && err.status < 500) {
          span.setAttributes({ 'cache.hit': false, 'cache.layer': 'none' });
          return { refused: err };
        }
        throw err;
      }
    },
    { attributes: { 'cache.key': key, 'cache.name': layers.cache.name } },
  );
  if ('refused' in outcome) throw outcome.refused;
  return outcome.found;

  async function lookup(spanCtx: AppContext, span: Span): Promise<{ value: T; source: Source }> {
    let loaded: { value: T } | undefined;
    const loader = async () => {
      // The load is shared: every request that misses the key meanwhile joins it (the cache's
      // single flight). It must not follow the signal of the request that happened to start it
      // (`ctx.signal`, which `callService` and `tracedFetch` abort on): that client hanging up
      // failed every other request waiting on the key with a 502 ("did not answer", AbortError).
      // Its own bounds still hold (the call timeout of `callService`).
      const value = await load(spanCtx.with({ signal: undefined }));
      loaded = { value };
      return encoder.encode(JSON.stringify(value));
    };
    const get = async (): Promise<{ bytes: Bytes; source: Source; stale: boolean }> => {
      const cache = layers.cache as Partial<MetaCache> & Cache;
      if (typeof cache.getOrSetWithMeta === 'function') {
        const r = await cache.getOrSetWithMeta(key, loader, ttlMs);
        const source = r.source === 'loader' ? 'origin' : r.source === 'stale' ? 'l2' : r.source;
        return { bytes: r.value, source: loaded ? 'origin' : source, stale: r.stale };
      }
      // A single-level cache: a value that did not come from the loader came from L1.
      const bytes = await cache.getOrSet(key, loader, ttlMs);
      return { bytes, source: loaded ? 'origin' : 'l1', stale: false };
    };
    let r = await get();
    let value: T;
    if (loaded) value = (loaded as { value: T }).value;
    else {
      try {
        value = JSON.parse(decoder.decode(r.bytes)) as T;
      } catch {
        span.addEvent('cache.decode_failed');
        await layers.cache.delete(key);
        r = await get();
        value = loaded ? (loaded as { value: T }).value : (JSON.parse(decoder.decode(r.bytes)) as T);
      }
    }
    span.setAttributes({
      'cache.hit': r.source !== 'origin',
      'cache.layer': r.source === 'origin' ? 'none' : r.source,
      'cache.stale': r.stale || undefined,
    });
    return { value, source: r.source };
  }
}

/** Deletes `key` in a span (`cache.delete`); with a tiered cache this also invalidates other instances. */
export function invalidate(ctx: AppContext, layers: CacheLayers, key: string): Promise<boolean> {
  return withSpan(ctx, 'cache invalidate', () => layers.cache.delete(key), {
    attributes: { 'cache.key': key, 'cache.name': layers.cache.name },
  });
}
