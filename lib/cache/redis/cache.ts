/**
 * The Redis `Cache`: byte values under an optional key prefix, on a standalone server, a sentinel
 * set or a cluster. Bad input throws a typed CacheError before anything is sent; backend failures
 * become CacheError('timeout' | 'unavailable' | 'oom' | 'backend' …) with the client's error as
 * `cause`. `getOrSet` fails open: when Redis cannot answer, the loader's value is returned.
 */
import type { Cluster, Redis } from 'iovalkey';
import type { Bytes, Cache, CacheEntry, CacheStats, Loader, Logger } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { noopLogger } from '../../core/noop.js';
import { createSingleflight } from '../../core/singleflight.js';
import { assertBytes, assertKey, assertTtl, hitRatio } from '../../core/validate.js';
import { type BatchOp, runBatch } from './batch.js';
import { buildClient } from './client.js';
import { toCacheError } from './errors.js';
import { probeHealth, type RedisHealth } from './health.js';
import { type RedisCacheOptions, type RedisMode, resolveOptions } from './options.js';
import { keySlot } from './slots.js';
import {
  createTransactionRunner,
  type TransactionFn,
  type TransactionOptions,
  type TransactionResult,
} from './transaction.js';

/** Largest value Redis stores (a bulk string is at most 512 MiB). */
export const MAX_VALUE_BYTES = 512 * 1024 * 1024;
/** Largest TTL accepted (ms); beyond this `PX` would not be an exact integer. */
export const MAX_TTL_MS = 2 ** 52;
/** Callers allowed to wait for a (re)connection at once; beyond this they fail at once. */
const MAX_WAITERS = 10_000;

export interface RedisCacheStats extends CacheStats {
  readonly errors: number;
  /** Commands sent and not yet answered. */
  readonly inflight: number;
}

/** Batches get/set/delete into one round trip (one per node in cluster mode). */
export interface RedisPipeline {
  get(key: string): RedisPipeline;
  /** `ttl` in ms; default: the cache's `defaultTtl`, else no expiry. */
  set(key: string, value: Bytes, ttl?: number): RedisPipeline;
  delete(key: string): RedisPipeline;
  /** Number of queued operations. */
  readonly length: number;
  /**
   * Sends the queued operations and resolves with one result per operation, in order: `get` →
   * value or `undefined`, `set` → `true`, `delete` → whether a key was removed. Rejects with the
   * first CacheError if any command failed. Empties the queue.
   */
  exec(): Promise<(Bytes | boolean | undefined)[]>;
}

export interface RedisCache extends Cache {
  readonly name: string;
  readonly mode: RedisMode;
  readonly keyPrefix: string;
  /**
   * The underlying iovalkey client, for pub/sub, scripts or leases. Use `client.duplicate()` for a
   * subscriber connection; do not quit it (the cache owns it unless it was injected).
   */
  readonly client: Redis | Cluster;
  pipeline(): RedisPipeline;
  stats(): RedisCacheStats;
  /** PING latency and topology; `{ ok: false, error }` when Redis cannot answer. Never throws. */
  health(): Promise<RedisHealth>;
  /** MULTI/EXEC of queued get/set/delete/expire, optionally WATCH-guarded; a conflict is `{ ok: false }`. See ./transaction.ts. */
  transaction(fn: TransactionFn, options?: TransactionOptions): Promise<TransactionResult>;
  /** Stops new operations, waits (bounded) for in-flight ones, then quits the client it owns. Idempotent. */
  close(): Promise<void>;
}

function toBuffer(value: Bytes): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** `*`, `?`, `[`, `]` and `\` are glob syntax in SCAN MATCH; a prefix must match literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Creates a Redis-backed cache. Throws ConfigError for invalid options (every bad field at once). */
export function createRedisCache(options: RedisCacheOptions = {}): RedisCache {
  const o = resolveOptions(options);
  const owned = options.client === undefined || options.ownClient === true;
  const client = options.client ?? buildClient(o);
  const isCluster = client.isCluster;
  const prefix = o.keyPrefix;
  const logger: Logger = (options.logger ?? noopLogger).child({ component: 'cache', cache: o.name });
  const secrets = [o.password, o.sentinelPassword];
  const flights = createSingleflight<Bytes>();
  const timeoutMs = o.commandTimeout;
  const txRunner = createTransactionRunner({
    client,
    keyPrefix: prefix,
    mode: o.mode,
    commandTimeout: timeoutMs,
    defaultTtl: o.defaultTtl,
  });

  let hits = 0;
  let misses = 0;
  let errors = 0;
  let inflight = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;

  // ---------------------------------------------------------------- client events and reporting
  let everReady = client.status === 'ready';
  let readyWaiters = 0;
  let onReady: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const readyListener = () => {
    everReady = true;
    wake?.();
    onReady = undefined;
    wake = undefined;
  };
  // Connection errors repeat on every reconnect attempt: log the first, then at most one per 5 s.
  let lastLog = 0;
  let suppressed = 0;
  const report = (message: string, fields: Record<string, unknown>) => {
    const now = Date.now();
    if (now - lastLog < 5000) {
      suppressed++;
      return;
    }
    lastLog = now;
    logger.warn(message, suppressed ? { ...fields, suppressed } : fields);
    suppressed = 0;
  };
  const errorListener = (err: Error) =>
    report('redis connection error', { error: toCacheError('connection', err, secrets).message });
  client.on('ready', readyListener);
  client.on('error', errorListener);
  if (isCluster) client.on('node error', errorListener);
  if (!owned && typeof (client.options as { commandTimeout?: unknown }).commandTimeout !== 'number') {
    logger.warn('injected redis client has no commandTimeout: its commands are not time-bounded');
  }

  /**
   * Resolves when the client can take commands. Waits at most the command timeout, and not at all
   * when `failFast` and the connection was up before (a lost connection: answer without Redis).
   */
  function gate(op: string, failFast: boolean): Promise<void> | undefined {
    if (closed) throw new CacheError('closed', `redis ${op} failed: the cache is closed`);
    const status = client.status;
    if (status === 'ready') return undefined;
    if (status === 'end') throw new CacheError('unavailable', `redis ${op} failed: connection ended`);
    if (failFast && everReady)
      throw new CacheError('unavailable', `redis ${op} failed: not connected (${status})`);
    if (readyWaiters >= MAX_WAITERS) {
      throw new CacheError(
        'unavailable',
        `redis ${op} failed: ${MAX_WAITERS} callers already wait for a connection`,
      );
    }
    if (status === 'wait') client.connect().catch(() => {}); // lazy client: first use connects
    onReady ??= new Promise<void>((resolve) => {
      wake = resolve;
    });
    readyWaiters++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new CacheError('unavailable', `redis ${op} failed: not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      onReady!.then(() => {
        clearTimeout(timer);
        if (closed) reject(new CacheError('closed', `redis ${op} failed: the cache is closed`));
        else resolve();
      });
    }).finally(() => {
      readyWaiters--;
    });
  }

  /** Runs one backend operation: readiness gate, in-flight tracking, error mapping and counting. */
  async function run<T>(op: string, fn: () => Promise<T>, failFast = false): Promise<T> {
    try {
      const wait = gate(op, failFast);
      if (wait) await wait;
    } catch (err) {
      if ((err as CacheError).code !== 'closed') {
        errors++;
        report('redis cache operation failed', { op, code: (err as CacheError).code });
      }
      throw err;
    }
    inflight++;
    try {
      return await fn();
    } catch (err) {
      errors++;
      const e = toCacheError(op, err, secrets);
      report('redis cache operation failed', { op, code: e.code, error: e.message });
      throw e;
    } finally {
      if (--inflight === 0) drained?.();
    }
  }

  const settle = () => {
    if (--inflight === 0) drained?.();
  };
  const fail = (op: string) => (err: unknown) => {
    settle();
    errors++;
    const e = toCacheError(op, err, secrets);
    report('redis cache operation failed', { op, code: e.code, error: e.message });
    throw e;
  };
  const failGet = fail('get');
  const failSet = fail('set');

  /**
   * Hot path of single-key commands: when connected, one `.then` on the client's promise instead of
   * the async layers of `run()` (measurably cheaper per call under concurrency); otherwise `run()`.
   */
  function exec<T, R>(
    op: string,
    send: () => Promise<T>,
    map: (value: T) => R,
    onError: (err: unknown) => never,
  ): Promise<R> {
    if (closed || client.status !== 'ready') return run(op, send).then(map);
    inflight++;
    return send().then((value) => {
      settle();
      return map(value);
    }, onError);
  }

  /** Runs synchronous input checks so that misuse rejects (async contract) instead of throwing. */
  function checked<R>(check: () => Promise<R>): Promise<R> {
    try {
      return check();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // ---------------------------------------------------------------- input checks
  const checkTtl = (ttl: unknown): number | undefined => {
    assertTtl(ttl);
    if (ttl !== undefined && ttl > MAX_TTL_MS) {
      throw new CacheError('invalid_ttl', `ttl must be at most ${MAX_TTL_MS} ms, received ${ttl}`);
    }
    const t = ttl ?? o.defaultTtl;
    return t === undefined ? undefined : Math.ceil(t);
  };
  const checkValue = (value: unknown): Buffer => {
    assertBytes(value);
    if (value.byteLength > MAX_VALUE_BYTES) {
      throw new CacheError('too_large', `cache value is larger than ${MAX_VALUE_BYTES} bytes (Redis limit)`);
    }
    return toBuffer(value);
  };

  const setCommand = (key: string, value: Buffer, px: number | undefined) =>
    px === undefined ? client.set(key, value) : client.set(key, value, 'PX', px);

  const count = (value: Buffer | null | undefined): Bytes | undefined => {
    if (value == null) {
      misses++;
      return undefined;
    }
    hits++;
    return value;
  };

  const countAll = (values: (Buffer | null)[]) => values.map(count);
  const stored = () => true;
  const positive = (n: number) => n > 0;

  // ---------------------------------------------------------------- cache
  const cache: RedisCache = {
    name: o.name,
    mode: o.mode,
    keyPrefix: prefix,
    client,

    get(key) {
      return checked(() => {
        assertKey(key);
        return exec('get', () => client.getBuffer(prefix + key), count, failGet);
      });
    },

    set(key, value, ttl) {
      return checked(() => {
        assertKey(key);
        const px = checkTtl(ttl);
        const buf = checkValue(value);
        return exec('set', () => setCommand(prefix + key, buf, px), stored, failSet);
      });
    },

    delete(key) {
      return checked(() => {
        assertKey(key);
        return exec('delete', () => client.unlink(prefix + key), positive, fail('delete'));
      });
    },

    has(key) {
      return checked(() => {
        assertKey(key);
        return exec('has', () => client.exists(prefix + key), positive, fail('has'));
      });
    },

    async getMany(keys) {
      if (!Array.isArray(keys)) throw new CacheError('invalid_key', 'getMany expects an array of keys');
      for (const k of keys) assertKey(k);
      if (keys.length === 0) return [];
      const full = keys.map((k) => prefix + k);
      if (!isCluster) return exec('getMany', () => client.mgetBuffer(full), countAll, fail('getMany'));
      // Cluster: one MGET per slot, batched per node, merged back in request order.
      const bySlot = new Map<number, number[]>();
      full.forEach((k, i) => {
        const slot = keySlot(k);
        const list = bySlot.get(slot);
        if (list) list.push(i);
        else bySlot.set(slot, [i]);
      });
      const groups = [...bySlot.values()];
      const ops: BatchOp[] = groups.map((idx) => ({ kind: 'mget', keys: idx.map((i) => full[i]!) }));
      const replies = await run('getMany', () => runBatch(client, ops));
      const out: (Bytes | undefined)[] = new Array(keys.length);
      groups.forEach((idx, g) => {
        const values = replies[g] as (Buffer | null)[];
        idx.forEach((i, j) => {
          out[i] = count(values[j]);
        });
      });
      return out;
    },

    async setMany(entries: readonly CacheEntry[]) {
      if (!Array.isArray(entries))
        throw new CacheError('invalid_value', 'setMany expects an array of entries');
      const ops: BatchOp[] = entries.map((e) => {
        assertKey(e?.key);
        return { kind: 'set', key: prefix + e.key, value: checkValue(e.value), px: checkTtl(e.ttl) };
      });
      if (ops.length === 0) return;
      await run('setMany', () => runBatch(client, ops));
    },

    async clear() {
      await run('clear', () => clearPrefix(client, prefix));
    },

    async getOrSet(key: string, loader: Loader<Bytes>, ttl?: number) {
      assertKey(key);
      const px = checkTtl(ttl);
      if (typeof loader !== 'function')
        throw new CacheError('invalid_value', 'getOrSet expects a loader function');
      let cached: Buffer | null = null;
      try {
        cached = await run('get', () => client.getBuffer(prefix + key), true);
      } catch (err) {
        if ((err as CacheError).code === 'closed') throw err;
        // Fail open: already counted and reported by run(); the loader answers instead.
      }
      if (cached !== null) {
        hits++;
        return cached;
      }
      misses++;
      return flights.do(key, async () => {
        const value = await loader();
        const buf = checkValue(value);
        try {
          await run('set', () => setCommand(prefix + key, buf, px), true);
        } catch {
          // Fail open, as above: the value is still the right answer.
        }
        return value;
      });
    },

    transaction: (fn, options) =>
      txRunner.transaction(fn, options).catch((err: unknown) => {
        // Backend failures count and log like any other command; misuse and the caller's own
        // errors (thrown by `fn`) pass through uncounted.
        const code = err instanceof CacheError ? err.code : undefined;
        if (code === 'timeout' || code === 'unavailable' || code === 'oom' || code === 'backend') {
          errors++;
          report('redis cache operation failed', { op: 'transaction', code, error: (err as Error).message });
        }
        throw err;
      }),

    pipeline() {
      let ops: BatchOp[] = [];
      const api: RedisPipeline = {
        get(key) {
          assertKey(key);
          ops.push({ kind: 'get', key: prefix + key });
          return api;
        },
        set(key, value, ttl) {
          assertKey(key);
          ops.push({ kind: 'set', key: prefix + key, value: checkValue(value), px: checkTtl(ttl) });
          return api;
        },
        delete(key) {
          assertKey(key);
          ops.push({ kind: 'del', key: prefix + key });
          return api;
        },
        get length() {
          return ops.length;
        },
        async exec() {
          const queued = ops;
          ops = [];
          if (queued.length === 0) return [];
          const replies = await run('pipeline', () => runBatch(client, queued));
          return queued.map((op, i) => {
            const r = replies[i];
            if (op.kind === 'get') return count(r as Buffer | null);
            if (op.kind === 'del') return (r as number) > 0;
            return true;
          });
        },
      };
      return api;
    },

    stats() {
      return { hits, misses, hitRatio: hitRatio(hits, misses), errors, inflight };
    },

    health() {
      if (closed) return Promise.resolve({ ok: false, mode: o.mode, error: 'cache is closed', nodes: [] });
      return probeHealth(client, o.mode, timeoutMs, secrets);
    },

    close() {
      closing ??= (async () => {
        closed = true;
        await txRunner.close();
        wake?.(); // waiters see `closed` and reject
        if (inflight > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, timeoutMs + 100).unref();
          });
        }
        client.off('ready', readyListener);
        if (!owned) {
          client.off('error', errorListener);
          if (isCluster) client.off('node error', errorListener);
          return;
        }
        if (client.status === 'end') return;
        const ended = new Promise<void>((resolve) => client.once('end', resolve));
        // QUIT lets the server answer everything sent before it; a hard disconnect is the fallback.
        if (client.status === 'ready')
          await within(
            client.quit().catch(() => {}),
            1000,
          );
        // Between reconnect attempts there is no socket, so no 'end' follows the disconnect.
        const waitEnd = client.status !== 'reconnecting';
        client.disconnect();
        if (waitEnd) await within(ended, 1000);
      })();
      return closing;
    },
  };
  return cache;
}

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/** SCAN + UNLINK of `prefix*` on every master; never FLUSHDB. UNLINK is batched per slot for cluster. */
async function clearPrefix(client: Redis | Cluster, prefix: string): Promise<void> {
  const pattern = `${globEscape(prefix)}*`;
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = String(next);
        if (keys.length === 0) continue;
        if (!client.isCluster) {
          await node.unlink(...keys);
          continue;
        }
        const bySlot = new Map<number, Buffer[]>();
        for (const k of keys) {
          const slot = keySlot(k);
          const list = bySlot.get(slot);
          if (list) list.push(k);
          else bySlot.set(slot, [k]);
        }
        const p = node.pipeline();
        for (const list of bySlot.values()) p.unlink(...list);
        const replies = (await p.exec()) ?? [];
        const failed = replies.find(([err]) => err);
        // A key that moved away mid-scan belongs to another master, which scans it itself.
        if (failed?.[0] && !/^(MOVED|ASK)\b/.test(failed[0].message)) throw failed[0];
      } while (cursor !== '0');
    }),
  );
}
