/**
 * The contracts every adapter implements. They are deliberately small: a handler written against
 * them runs unchanged on the no-op implementations, on the OpenTelemetry / Redis / Prometheus
 * adapters, or on anything else that conforms.
 */

// ---------------------------------------------------------------- tracing

/** Span attribute values (the OpenTelemetry set). Other types are dropped by the adapter. */
export type AttributeValue =
  | string
  | number
  | boolean
  | ReadonlyArray<string>
  | ReadonlyArray<number>
  | ReadonlyArray<boolean>;

/** Attributes are plain objects: `span.setAttributes({ 'user.id': id })`. `undefined` entries are skipped. */
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** W3C baggage entries carried with a trace across services. */
export type Baggage = Readonly<Record<string, string>>;

/** Identity of a span, as propagated across process boundaries (W3C trace context). */
export interface SpanContext {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  /** 16 lowercase hex characters. */
  readonly spanId: string;
  /** Bit 0 = sampled. */
  readonly traceFlags: number;
  /** True when the context came from another process. */
  readonly isRemote?: boolean | undefined;
  /** Raw W3C `tracestate` header value, if any. */
  readonly traceState?: string | undefined;
}

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

export interface SpanStatus {
  readonly code: 'unset' | 'ok' | 'error';
  readonly message?: string | undefined;
}

/**
 * A point in time given to a span: ms since the epoch (`Date.now()`, as `SpanOptions.startTime`;
 * fractions allowed) or a `Date`. OpenTelemetry's `HrTime` (`[seconds, nanoseconds]`) is not one:
 * convert it (`s * 1e3 + ns / 1e6`). A time that is not usable — not finite, negative, after
 * 2262-04-11 (past 64-bit nanoseconds), an invalid `Date`, any other type — is never thrown: the
 * span method uses now, with one warning per tracer (tracing README, "Span times").
 */
export type SpanTime = number | Date;

/** A unit of traced work. All methods are safe to call after `end()` (they do nothing). */
export interface Span {
  setAttributes(attributes: Attributes): this;
  /** `time`: when the event happened (default: now). */
  addEvent(name: string, attributes?: Attributes, time?: SpanTime): this;
  /** Records an `exception` event and sets the error status. Non-Error values are stringified. */
  recordError(error: unknown): this;
  setStatus(status: SpanStatus): this;
  updateName(name: string): this;
  /**
   * Ends the span at `endTime` (default: now); the second and later calls do nothing. An end time
   * before the span's start ends it at its start (duration 0), with one warning per tracer (none
   * for a `performance.now()` reading, which the OpenTelemetry SDK checks alone: tracing README,
   * "Span times").
   */
  end(endTime?: SpanTime): void;
  spanContext(): SpanContext;
  /** False for spans that are not sampled or come from a no-op tracer. */
  isRecording(): boolean;
  /**
   * Adds a link after start, checked as `SpanOptions.links` are (a bad one is dropped with one
   * warning). Optional, so that a `Span` of your own written before it still compiles: call it as
   * `span.addLink?.(link)`. Every span of Hyperion's tracers has it (the no-op and propagate-only
   * ones, and unsampled spans, ignore the link). Prefer `links` at start where you can: a sampler
   * sees only those.
   */
  addLink?(link: SpanLink): this;
  /** `addLink` for each of `links` (optional likewise: `span.addLinks?.(links)`). */
  addLinks?(links: readonly SpanLink[]): this;
}

export interface SpanOptions {
  kind?: SpanKind | undefined;
  attributes?: Attributes | undefined;
  /** Parent span; when absent the span starts a new trace. */
  parent?: Span | undefined;
  /**
   * Without `parent`: start a new trace even where the tracer would continue the active span
   * (OpenTelemetry active-context mode). `traceHandler` sets it for a request without an
   * incoming trace context: its server span is a root, never a child of whatever span was active
   * when the server was created. Ignored when `parent` is given.
   */
  root?: boolean | undefined;
  /**
   * Start time: ms since the epoch or a `Date` (a `SpanTime`; defaults to now, and an unusable one
   * is now). It was typed `number` alone, though the tracers took a `Date` and the tracing README
   * said so: `startTime: job.startedAt` (a `Date`, as OpenTelemetry's `startTime` takes) did not
   * compile.
   */
  startTime?: SpanTime | undefined;
  /**
   * Links to other spans (OpenTelemetry span links), set at start: e.g. a batch consumer's span
   * linked to the span of each message it processes, whose contexts came from the messages'
   * headers (`tracer.extract(headers).parent?.spanContext()`). Recorded by the OpenTelemetry
   * tracer (Jaeger shows them as `FOLLOWS_FROM` references); the no-op and propagate-only tracers
   * record nothing, so they ignore them.
   */
  links?: readonly SpanLink[] | undefined;
}

/** A link from a span to another span's context (OpenTelemetry span link). */
export interface SpanLink {
  /** The linked span: `span.spanContext()`, or an extracted remote parent's. */
  readonly context: SpanContext;
  /** Attributes of the link itself, checked like span attributes. */
  readonly attributes?: Attributes | undefined;
}

/** What a tracer extracts from incoming headers. */
export interface ExtractedContext {
  /** The remote parent, when the headers carried a valid trace context. */
  readonly parent?: Span | undefined;
  readonly baggage: Baggage;
}

/** Header carrier for propagation: plain objects, as `node:http` gives and `fetch` takes. */
export type HeaderCarrier = Record<string, string | string[] | undefined>;

/**
 * A header collection with methods: WHATWG `Headers` (fetch, undici) or a `Map` of header names to
 * values. `injectHeaders` and `contextFromHeaders` take one as well as a plain `HeaderCarrier`.
 */
export interface HeaderMap {
  get(name: string): unknown;
  set(name: string, value: string): unknown;
  forEach(callback: (value: string, key: string) => void): void;
}

/** Why a finished span never reached the collector. */
export type SpanDropReason = 'queue_full' | 'export_failed' | 'shutdown';

/** Export counters of a tracer since it was created (tracers that export spans report them). */
export interface TracerStats {
  /** Spans the exporter accepted. */
  readonly exportedSpans: number;
  /** Export requests that failed (collector down, rejected, timed out). */
  readonly failedExports: number;
  /** Every span that will never reach the collector: the sum of `droppedSpans`. */
  readonly lostSpans: number;
  /**
   * Lost spans by reason: `queue_full` (ended while the export queue was full), `export_failed`
   * (in a failed export request, or rejected by the collector in a partial success), `shutdown`
   * (still queued or in flight when close gave up).
   */
  readonly droppedSpans: Readonly<Record<SpanDropReason, number>>;
}

/** What `createApp` tells a component it closes. */
export interface CloseOptions {
  /**
   * Time the close may take, ms: a component that waits on the network (a final span export)
   * gives up cleanly within it and resolves. `Infinity`: no bound.
   */
  readonly timeoutMs?: number | undefined;
  /** Aborts when the budget is spent: work still waited for is cut at once. */
  readonly signal?: AbortSignal | undefined;
}

export interface Tracer {
  startSpan(name: string, options?: SpanOptions): Span;
  /** Writes the propagation headers for `span` and `baggage` into `carrier`. */
  inject(
    carrier: Record<string, string>,
    source: { span?: Span | undefined; baggage?: Baggage | undefined },
  ): void;
  /** Reads propagation headers; never throws on malformed input (it is ignored). */
  extract(carrier: Readonly<HeaderCarrier>): ExtractedContext;
  /**
   * Optional: runs `fn` with `span` as the ambient (library-native) context, so third-party
   * instrumentation nests under it, with `baggage` (the span's `ctx.baggage`) as the ambient
   * baggage, so that instrumentation propagates it too. Tracers without an ambient context omit this.
   */
  activate?<T>(span: Span, fn: () => T, baggage?: Baggage): T;
  /**
   * Export counters (`createApp` turns them into `spans_dropped_total{reason}` when it has metrics).
   * Admits `undefined`: a tracer typed as having none (`ProviderOtelTracer`) was no `Tracer` under
   * `exactOptionalPropertyTypes`.
   */
  exportStats?: (() => TracerStats) | undefined;
  /** Flushes and shuts down, within `options.timeoutMs` when given (`createApp` passes its disposer budget). */
  close?(options?: CloseOptions): Promise<void>;
  /**
   * Optional: `createApp` calls it with the app's logger when it was given one. A tracer built
   * without a logger of its own writes its records (export failures, lost spans, dropped
   * attributes) to this one from then on; a tracer given its own logger keeps it and ignores the
   * call. Tracers that never log (the no-op and propagate-only ones) omit it.
   */
  useLogger?(logger: Logger): void;
}

// ---------------------------------------------------------------- cache

/** Bytes, as in the original `[]byte` contract. Buffers are accepted (they are Uint8Arrays). */
export type Bytes = Uint8Array;

/** A value loader for `getOrSet`. */
export type Loader<T> = () => T | Promise<T>;

export interface CacheEntry {
  readonly key: string;
  readonly value: Bytes;
  /** Time to live in ms; omitted = no expiry (or the cache's default). */
  readonly ttl?: number | undefined;
}

/** A value read with the time it has left on its cache (`getManyWithTtl`). */
export interface CacheHit {
  readonly value: Bytes;
  /** Milliseconds left before the cache expires it, as the cache saw it when it answered; `undefined`: no expiry. */
  readonly ttl: number | undefined;
}

/**
 * Options of one `set`; `setMany`, `delete` and `deleteMany` take `timeout` alone (any other key is
 * `CacheError('invalid_value')` there). Every field is optional; every cache honours them.
 */
export interface WriteOptions {
  /**
   * The caller's time budget for this write, in ms: the call settles within it. A cache whose
   * writes can land late (a network backend) makes sure a write it reports as failed after this
   * budget never takes effect later: the Redis cache sends it with a server-side deadline that ends
   * before the budget — a margin of 10 % of it, at least 5 ms, earlier — so there a budget of 5 ms
   * or less refuses every write (`timeout`, against a healthy server too) and one of 6 ms a third of them:
   * give at least 10 ms, the least `commandTimeout` (the same holds for a tiered cache over Redis,
   * which passes the budget on). Caches that write synchronously have nothing to bound, but every cache
   * checks it alike: a positive number of ms (`Infinity`: no budget of the caller's own), else
   * `CacheError('invalid_ttl')`. Options that are not an object, a non-boolean `ifAbsent`,
   * non-bytes `ifEquals`, or both together are `invalid_value`.
   */
  readonly timeout?: number | undefined;
  /** Store only when the key holds no value now; `set` then resolves `false`. */
  readonly ifAbsent?: boolean | undefined;
  /**
   * Store only when the key holds exactly these bytes now (compare-and-set); `set` otherwise
   * resolves `false`. The tiered cache uses it to replace a stale L2 value it read without
   * overwriting a newer write made meanwhile. Not together with `ifAbsent`. Caches that cannot
   * compare reject it (`invalid_value`) rather than store unconditionally.
   */
  readonly ifEquals?: Bytes | undefined;
}

/**
 * Live counters of a cache, read by the metrics adapter at scrape time. Every cache reports
 * hits/misses; the other fields are present where the cache knows them.
 */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses), 0 when there were no reads. */
  readonly hitRatio: number;
  readonly keysAdded?: number | undefined;
  readonly keysEvicted?: number | undefined;
  readonly keysRejected?: number | undefined;
  readonly costAdded?: number | undefined;
  readonly costEvicted?: number | undefined;
  /** Backend errors (timeouts, connection loss) seen by the cache. */
  readonly errors?: number | undefined;
}

/**
 * A byte cache. A miss is `undefined`, never an exception; exceptions (`CacheError`) mean misuse
 * or a backend that could not answer. TTLs are milliseconds.
 *
 * Bytes are not cloned where a cache keeps them in process: the memory cache stores the array it
 * is given and returns it, the tiered cache returns its L1 copy. Treat a value passed to `set` and
 * one a read returned as read-only (copy before writing into it): a handler that writes into what
 * `get` returned works on Redis (a fresh array per reply) but changes what the next `get` serves
 * on the memory or tiered cache.
 */
export interface Cache {
  /** Short name used in metrics labels (`memory`, `redis`, `tiered`, …). */
  readonly name: string;
  get(key: string): Promise<Bytes | undefined>;
  /**
   * Resolves `false` when the cache declined to store the value (admission policy, or `ifAbsent`
   * and the key held a value). A rejection with `timeout` means the write cannot take effect after the
   * rejection (the budget — `options.timeout`, else the cache's own command timeout — is spent): it
   * is not applied, or was applied before a reply that came too late.
   */
  set(key: string, value: Bytes, ttl?: number, options?: WriteOptions): Promise<boolean>;
  /**
   * Resolves `true` when a value was removed. A rejection with `timeout` means the delete cannot
   * take effect after the rejection, as for `set`.
   */
  delete(key: string, options?: Pick<WriteOptions, 'timeout'>): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /** Values in the order of `keys`; misses are `undefined`. */
  getMany(keys: readonly string[]): Promise<(Bytes | undefined)[]>;
  /**
   * Optional: like `getMany`, each value with the time it has left (misses are `undefined`). A
   * tiered cache with server-assisted tracking reads its shared L2 through it, so that a TTL
   * another client set (or shortened) also bounds the L1 copy: an expiry is only reported once the
   * server deletes the key, which can take minutes.
   */
  getManyWithTtl?(keys: readonly string[]): Promise<(CacheHit | undefined)[]>;
  /**
   * Stores every entry; `options.timeout` as for `set` (`ifAbsent` is not supported here). Not
   * atomic: when it rejects, some entries may have been stored (a network cache stores them one
   * by one).
   */
  setMany(entries: readonly CacheEntry[], options?: Pick<WriteOptions, 'timeout'>): Promise<void>;
  /**
   * Removes every key of `keys` (duplicates allowed) in as few round trips as the backend allows;
   * resolves with how many of them held a value.
   */
  deleteMany(keys: readonly string[], options?: Pick<WriteOptions, 'timeout'>): Promise<number>;
  /** Removes every entry this cache owns (for shared backends: only its own key prefix). */
  clear(): Promise<void>;
  /**
   * Returns the cached value, or calls `loader` once for all concurrent callers of the same key
   * (singleflight), stores its result and returns it. A loader error reaches every waiting caller
   * and is not cached.
   */
  getOrSet(key: string, loader: Loader<Bytes>, ttl?: number): Promise<Bytes>;
  stats?(): CacheStats;
  close?(): Promise<void>;
}

/**
 * One invalidation of a tiered cache: the keys to drop from L1 (never their values), or `all`
 * after a `clear()`. `origin` is the id of the instance that wrote, so that it can ignore its own
 * messages. Here because two adapters meet on it: the tiered cache and a transport (Redis).
 */
export interface Invalidation {
  readonly origin: string;
  readonly keys?: readonly string[] | undefined;
  readonly all?: boolean | undefined;
  /**
   * The keyspace the message is about (a tiered cache over a Redis L2 sends its key prefix and
   * database, `db:prefix`): a cache of another keyspace on the same channel ignores it, unless
   * the two overlap (one prefix starts with the other, in one database): then it applies a clear,
   * and the keys whose Redis names fall in its own keyspace. Absent: every cache on the channel
   * applies it (messages of older versions, a bus that does not carry it).
   */
  readonly scope?: string | undefined;
}

/**
 * A broadcast channel between the instances of a tiered cache. Delivery may be lossy (Redis
 * pub/sub is); a transport that may have lost messages must call `onReconnect`, and the cache then
 * clears its L1. `createRedisInvalidationBus` (`hyperion/cache/redis`) implements it.
 */
export interface InvalidationBus {
  /** Sends `message` to every subscriber, the sender's own subscriptions included. */
  publish(message: Invalidation): Promise<void>;
  /**
   * Registers the handlers; resolves once messages are being received. Returns a function that
   * removes them again. `onClosed` (optional for a transport): the bus was closed while these
   * handlers were still registered — by another user of a shared bus — so no invalidation will
   * arrive any more; the cache then stops using its L1.
   */
  subscribe(
    onInvalidation: (message: Invalidation) => void,
    onReconnect: () => void,
    onClosed?: () => void,
  ): Promise<() => void>;
  /** Stops the transport; idempotent. */
  close(): Promise<void>;
}

/**
 * What a tiered cache hears from an {@link InvalidationTracker}. Called synchronously from the
 * tracker's connection events, in the order they happened.
 */
export interface TrackingHandlers {
  /** The server reports these keys (the L2's own keys, prefix stripped) changed; `null`: everything (flush). */
  onInvalidate(keys: readonly string[] | null): void;
  /** Invalidations may have been lost (a connection dropped, a node changed): stop trusting L1 now. */
  onLost(reason: string): void;
  /**
   * Only the keys for which `affected(key)` is true may have missed invalidations (cluster: their
   * slots changed owner while every connection stayed tracked): drop those from L1 now, and keep no
   * value of any key read before this call; the rest of L1 stays trusted.
   */
  onMoved(affected: (key: string) => boolean, reason: string): void;
  /** Every reading connection is tracked again: from now on every change is reported. */
  onConfirmed(): void;
}

/**
 * Server-assisted invalidation of a tiered cache's L1 (Redis `CLIENT TRACKING`):
 * `createRedisTracking` (`hyperion/cache/redis`) implements it. Unlike a bus it also reports
 * writes made by other programs, and it says when it cannot vouch for L1 (`onLost`), so the cache
 * keeps L1 empty and unfilled until `onConfirmed`.
 */
export interface InvalidationTracker {
  /**
   * `default`: the server reports keys this client read since their last report, so only a value
   * just read from L2 may enter L1 (a write by this client stops the tracking of its key).
   * `bcast`: every key under the prefix is reported.
   */
  readonly mode: 'default' | 'bcast';
  /** True while every reading connection is confirmed tracked. */
  readonly confirmed: boolean;
  /** `Date.now()` of the last confirmation (set up or heartbeat), 0 before the first. */
  readonly confirmedAt: number;
  /**
   * Optional: ms since the last confirmation measured on a monotonic clock, −1 before the first.
   * When present the tiered cache reports it as `trackingConfirmedAgo`; otherwise it takes
   * `Date.now() − confirmedAt`, which a step of the wall clock skews by the step.
   */
  readonly confirmedAgo?: number | undefined;
  /** Starts tracking; resolves at the first confirmation. Returns a function that removes the handlers. */
  start(handlers: TrackingHandlers): Promise<() => void>;
  /** Stops tracking and closes its own connections (never the L2's); idempotent. */
  close(): Promise<void>;
}

/**
 * A cross-instance lock for a tiered cache's loader (`createRedisLease` in `hyperion/cache/redis`
 * implements it). While one instance holds the lease for a key and runs the loader, the others
 * wait for its result in L2 instead of calling the loader too.
 */
export interface LoaderLease {
  /**
   * Tries to take the lease for `key`. Resolves a release function when it was taken, `undefined`
   * when another holder has it; rejects when the lease store cannot answer (the caller then loads
   * locally). `options` is optional, for leases written before it and callers that pass none.
   */
  acquire(key: string, options?: LeaseAcquireOptions): Promise<(() => Promise<void>) | undefined>;
  /**
   * Set when the lease keeps its locks in the key space of the cache it guards (the Redis lease
   * over an L2 whose key prefix is the start of the lease's prefix, or the other way round — the
   * default `hyperion:lease:` with no key prefix): cache keys that start with it would be the
   * lease's own keys, so the tiered cache refuses them with `invalid_key`. Optional: a lease of
   * your own that keeps its locks elsewhere leaves it out.
   */
  readonly reservedKeyPrefix?: string | undefined;
}

export interface LeaseAcquireOptions {
  /**
   * Aborted when the caller no longer wants the lease (the tiered cache aborts the acquires in
   * flight when it is closed). A lease that honours it rejects with `signal.reason` at once and
   * sees to it that a lease its store grants after the abort does not stay taken (the Redis lease
   * sends its release right behind its `SET`). A lease that ignores it still works: the tiered
   * cache releases a lease that arrives after its `close()` at once, if its store still answers.
   */
  readonly signal?: AbortSignal | undefined;
}

// ---------------------------------------------------------------- metrics

export type LabelValues = Readonly<Record<string, string | number>>;

export interface MetricOptions {
  /** Metric name without namespace/subsystem prefix: `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  name: string;
  help: string;
  labelNames?: readonly string[] | undefined;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds in increasing order (seconds for durations). */
  buckets?: readonly number[] | undefined;
}

export interface Counter {
  inc(value?: number): void;
  inc(labels: LabelValues, value?: number): void;
  /**
   * Optional: takes the series of `labels` out (a no-op when there is none), freeing its place
   * under a cardinality cap. What a watch wrote goes with the watch. The Prometheus adapter has it.
   */
  remove?(labels: LabelValues): void;
}

export interface Gauge {
  set(value: number): void;
  set(labels: LabelValues, value: number): void;
  inc(value?: number): void;
  inc(labels: LabelValues, value?: number): void;
  dec(value?: number): void;
  dec(labels: LabelValues, value?: number): void;
  /** Optional, as `Counter.remove`: takes the series of `labels` out. */
  remove?(labels: LabelValues): void;
}

export interface Histogram {
  observe(value: number): void;
  observe(labels: LabelValues, value: number, exemplar?: Readonly<Record<string, string>>): void;
  /** Starts a timer; calling the returned function observes the elapsed seconds. */
  startTimer(labels?: LabelValues): (labels?: LabelValues) => number;
}

/**
 * One finished outgoing HTTP call, as `tracedFetch` reports it to `Metrics.observeHttpClient`. Field
 * names follow the OpenTelemetry HTTP client attributes (`http.request.method`, `server.address`, …).
 */
export interface HttpClientObservation {
  /** Upper-case request method. */
  readonly method: string;
  readonly serverAddress: string;
  readonly serverPort: number;
  /** `http` or `https`. */
  readonly scheme: string;
  /** Response status; absent when no response arrived. */
  readonly status?: number | undefined;
  /** Why the call failed: the status as a string for a status ≥ 400, or the error's class name. */
  readonly errorType?: string | undefined;
  /** Seconds until the response headers arrived (or the call failed). */
  readonly seconds: number;
  /** Trace id of a sampled trace, for a latency exemplar. */
  readonly traceId?: string | undefined;
}

export interface Metrics {
  counter(options: MetricOptions): Counter;
  gauge(options: MetricOptions): Gauge;
  histogram(options: HistogramOptions): Histogram;
  /** Runs `fn` before every scrape (to read cache stats and the like). Returns an unsubscribe function. */
  onCollect(fn: () => void | Promise<void>): () => void;
  /** Records one outgoing HTTP call (called by `tracedFetch`); implementations without HTTP metrics omit it. */
  observeHttpClient?(o: HttpClientObservation): void;
  /** Stops serving within `options.timeoutMs` when given (`createApp` passes its disposer budget). */
  close?(options?: CloseOptions): Promise<void>;
}

// ---------------------------------------------------------------- logging

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every record. */
  child(fields: LogFields): Logger;
  close?(): Promise<void>;
  /**
   * Optional: whether records of `level` are written at all. Wrappers that do work before a record
   * reaches the logger (the span-bound logger of `ctx.logger` makes a child with the trace fields
   * on first use) skip that work when this returns false.
   */
  enabled?(level: LogLevel): boolean;
}

/**
 * What `createApp`, `createAppFromConfig` and `adaptLogger` take as a logger: a `Logger`, a logger
 * with only the four level methods (`console`; the app gives it a `child`), or a pino instance
 * (recognised and adapted to fields-after-message). Typed as `Logger` alone, the `console` and
 * pino instance the pages show were type errors although the code takes them.
 */
export interface LoggerLike {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}
