/**
 * No-op implementations of every contract. They allocate nothing on hot paths, so instrumented
 * code can stay in place when a concern is switched off. The no-op tracer still passes an incoming
 * W3C trace context through (like the OpenTelemetry API without an SDK), so a service without
 * tracing does not break the traces of the services around it.
 */

import { injectInto, isHeaderMap, readableCarrier } from './carrier.js';
import type {
  Bytes,
  Cache,
  CacheEntry,
  CacheStats,
  Counter,
  ExtractedContext,
  Gauge,
  Histogram,
  Logger,
  Metrics,
  Span,
  SpanContext,
  Tracer,
} from './contracts.js';
import { assertNotOwnLoad, loadChain, loadFrame, runIn, settle } from './load-chain.js';
import { createSingleflight } from './singleflight.js';
import { normalizeTracestate } from './tracestate.js';
import {
  assertBudgetOptions,
  assertBytes,
  assertEntries,
  assertKey,
  assertKeys,
  assertLoader,
  assertTtl,
  assertWriteOptions,
} from './validate.js';
import {
  formatTraceparent,
  headerValue,
  INVALID_SPAN_CONTEXT,
  isValidSpanContext,
  parseTraceparent,
  readSpanContext,
} from './w3c.js';

class NoopSpan implements Span {
  constructor(private readonly context: SpanContext) {}
  setAttributes() {
    return this;
  }
  addEvent() {
    return this;
  }
  recordError() {
    return this;
  }
  setStatus() {
    return this;
  }
  updateName() {
    return this;
  }
  // Links, like an end or event time, are recorded by nothing here: taken and ignored.
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
  end() {}
  spanContext() {
    return this.context;
  }
  isRecording() {
    return false;
  }
}

/** The span returned when there is nothing to record. */
export const noopSpan: Span = new NoopSpan(INVALID_SPAN_CONTEXT);

const EMPTY_EXTRACT: ExtractedContext = Object.freeze({ baggage: Object.freeze({}) });

export const noopTracer: Tracer = {
  startSpan(_name, options) {
    const parent = options?.parent;
    if (parent === undefined || parent === noopSpan) return noopSpan;
    // Keep the parent's identity so that injection downstream continues the caller's trace.
    // A parent whose spanContext() throws is no parent (it threw into the caller's request).
    const sc = readSpanContext(parent);
    return sc && isValidSpanContext(sc) ? new NoopSpan(sc) : noopSpan;
  },
  inject(carrier, source) {
    // A `Headers` or `Map` (JavaScript callers; the type asks for a plain object) is written with `set`.
    if (isHeaderMap(carrier)) return injectInto(carrier, (plain) => noopTracer.inject(plain, source));
    const span = source?.span;
    if (!span) return;
    const sc = readSpanContext(span);
    if (!sc || !isValidSpanContext(sc)) return;
    // Checked as a receiver checks them: a Span of the user's own with ids that are not hex went
    // out as a traceparent every receiver drops, and a tracestate it carried went out as it was
    // (one with a line break made the outgoing request throw "Invalid character in header").
    const traceparent = formatTraceparent(sc);
    if (!parseTraceparent(traceparent)) return;
    carrier.traceparent = traceparent;
    const traceState = sc.traceState ? normalizeTracestate(sc.traceState) : undefined;
    if (traceState) carrier.tracestate = traceState;
  },
  extract(carrier) {
    // Anything but a header object (null, a string…) carries no context: ignored, never thrown.
    if (!carrier || typeof carrier !== 'object') return EMPTY_EXTRACT;
    carrier = readableCarrier(carrier); // a `Headers` or `Map` is read by its entries
    // An invalid tracestate is dropped whole (W3C Trace Context §3.3), never passed on.
    const sc = parseTraceparent(
      headerValue(carrier, 'traceparent'),
      normalizeTracestate(headerValue(carrier, 'tracestate')),
    );
    return sc ? { parent: new NoopSpan(sc), baggage: EMPTY_EXTRACT.baggage } : EMPTY_EXTRACT;
  },
};

const ZERO_STATS: CacheStats = Object.freeze({ hits: 0, misses: 0, hitRatio: 0 });

/** A cache that stores nothing: every read misses, `getOrSet` always calls the loader (shared per key). */
export function createNoopCache(): Cache {
  const flights = createSingleflight<Bytes>();
  let misses = 0;
  return {
    name: 'noop',
    async get(key) {
      assertKey(key);
      misses++;
      return undefined;
    },
    async set(key, value, ttl, options) {
      assertKey(key);
      assertBytes(value, key);
      assertTtl(ttl);
      assertWriteOptions(options);
      // Like the storing caches: who reads after a write never joins a load begun before it.
      flights.forget(key);
      return false;
    },
    async delete(key, options) {
      assertKey(key);
      assertBudgetOptions(options);
      flights.forget(key);
      return false;
    },
    async has(key) {
      assertKey(key);
      return false;
    },
    async getMany(keys) {
      assertKeys(keys);
      misses += keys.length;
      return keys.map(() => undefined);
    },
    async setMany(entries: readonly CacheEntry[], options) {
      assertEntries(entries);
      assertBudgetOptions(options);
      for (const e of entries) flights.forget(e.key);
    },
    async deleteMany(keys, options) {
      assertKeys(keys);
      assertBudgetOptions(options);
      for (const k of keys) flights.forget(k);
      return 0;
    },
    async clear() {
      flights.forget();
    },
    async getOrSet(key, loader, ttl) {
      // The loads whose loaders called this one (synchronously), read before anything is awaited.
      const chain = loadChain();
      assertKey(key);
      assertTtl(ttl);
      assertLoader(loader);
      // Its own loader asking for the key (of any cache's load): as on the storing caches, refused
      // rather than joined (it used to wait for itself for good).
      assertNotOwnLoad(chain, flights, key, 'getOrSet');
      misses++;
      const frame = loadFrame(flights, key, chain);
      // Like the storing caches, a loader that produces no bytes is a bad value, not a result.
      return flights.do(key, async () => {
        try {
          const value = await runIn(frame, loader);
          assertBytes(value, key);
          return value;
        } finally {
          settle(frame);
        }
      });
    },
    stats: () => (misses === 0 ? ZERO_STATS : { hits: 0, misses, hitRatio: 0 }),
  };
}

const noopCounter: Counter = { inc() {} };
const noopGauge: Gauge = { set() {}, inc() {}, dec() {} };
const noopHistogram: Histogram = {
  observe() {},
  startTimer() {
    const start = performance.now();
    return () => (performance.now() - start) / 1000;
  },
};

export const noopMetrics: Metrics = {
  counter: () => noopCounter,
  gauge: () => noopGauge,
  histogram: () => noopHistogram,
  onCollect: () => () => {},
};

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};
