/**
 * Redis transactions: get/set/delete/expire queued inside MULTI/EXEC, optionally guarded by WATCH
 * (optimistic check-and-set). A watched key changed by someone else makes the transaction return
 * `{ ok: false, conflict: true }` — a value, so callers can retry (see `retryTransaction`).
 *
 * Why dedicated connections: WATCH state belongs to a connection, and the cache's client
 * multiplexes every caller over one. Another caller's EXEC (or UNWATCH) on that connection would
 * silently drop our WATCH and let a lost update through; a reconnect would do the same. So each
 * transaction leases a connection of its own (a small pool per node) that never reconnects and
 * never resends: a connection that dropped is discarded, and the transaction fails instead of
 * running unguarded or twice.
 */
import type { Cluster, Redis, RedisOptions } from 'iovalkey';
import type { Bytes } from '../../core/contracts.js';
import { CacheError, ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import { assertBytes, assertKey, assertTtl } from '../../core/validate.js';
import { codeOf, toCacheError } from './errors.js';
import { keySlot } from './slots.js';

/** Largest value Redis stores (a bulk string is at most 512 MiB). */
const MAX_VALUE_BYTES = 512 * 1024 * 1024;
/** Largest TTL (ms) that is still an exact integer for `PX` / `PEXPIRE`. */
const MAX_TTL_MS = 2 ** 52;
/** Transactions allowed to wait for a free connection at once; beyond this they fail at once. */
const MAX_WAITERS = 1000;

/** One queued command's reply: `get` → value or `undefined`; `set` → `true`; `delete`/`expire` → whether the key existed. */
export type TransactionValue = Bytes | boolean | undefined;

/** Outcome of a transaction. A WATCH conflict is an expected outcome, not an error. */
export type TransactionResult =
  | { readonly ok: true; readonly results: TransactionValue[] }
  | { readonly ok: false; readonly conflict: true };

/**
 * What the transaction function receives. `read` runs at once (before MULTI) and is only allowed
 * on watched keys; the other methods queue a command that runs atomically inside MULTI/EXEC after
 * the function returns. Queue nothing to give up (e.g. the read showed nothing needs changing).
 */
export interface TransactionBuilder {
  /** The current value of a watched key (`undefined` when absent). Throws for unwatched keys. */
  read(key: string): Promise<Bytes | undefined>;
  /** Queues GET; its value appears in `results` (it sees the transaction's earlier writes). */
  get(key: string): TransactionBuilder;
  /** Queues SET; `ttl` in ms, default: the runner's `defaultTtl`, else no expiry. */
  set(key: string, value: Bytes, ttl?: number): TransactionBuilder;
  /** Queues UNLINK; result: whether the key existed. */
  delete(key: string): TransactionBuilder;
  /** Queues PEXPIRE with `ttl` ms; result: whether the key existed. */
  expire(key: string, ttl: number): TransactionBuilder;
}

export type TransactionFn = (tx: TransactionBuilder) => void | Promise<void>;

export interface TransactionOptions {
  /**
   * Keys to WATCH before `fn` runs. If any of them is written by anyone between the WATCH and the
   * EXEC, nothing is applied and the result is `{ ok: false, conflict: true }`. Default: none.
   */
  watch?: readonly string[];
}

export interface TransactionRunnerOptions {
  /** The cache's iovalkey client; transactions use their own connections built from its options. */
  client: Redis | Cluster;
  /** Prepended to every key (the cache's `keyPrefix`). Default `''`. */
  keyPrefix?: string;
  /** Topology, checked against the client (`cluster` ⇔ a Cluster client). Default: from `client.isCluster`. */
  mode?: 'standalone' | 'cluster' | 'sentinel';
  /** Bound in ms for every command of a transaction and for waiting for a connection. Default 3000. */
  commandTimeout?: number;
  /** TTL in ms for `set` without one (the cache's `defaultTtl`). Default: no expiry. */
  defaultTtl?: number | undefined;
  /** Dedicated connections per node (= concurrent transactions per node). Default 4. */
  maxConnections?: number;
}

export interface TransactionRunner {
  /**
   * Runs `fn` to build a transaction, then sends it as MULTI/EXEC (guarded by WATCH on
   * `options.watch`). Resolves `{ ok: true, results }` (one result per queued command, in order)
   * or `{ ok: false, conflict: true }`. Rejects with CacheError for bad input, `cross_slot`
   * (cluster), `oom`, `timeout`, `unavailable`…; with `fn`'s own error if `fn` throws. Nothing is
   * applied when it rejects, except after `timeout`/`unavailable` during EXEC, when the outcome is
   * unknown (the message says so) — but never half-applied. `fn` holds a connection while it
   * runs (after a WATCH): keep it short, and do not wait on other transactions inside it.
   */
  transaction(fn: TransactionFn, options?: TransactionOptions): Promise<TransactionResult>;
  /** Quits the dedicated connections; later transactions reject with `closed`. Idempotent. */
  close(): Promise<void>;
}

type Op =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'set'; readonly key: string; readonly value: Buffer; readonly px: number | undefined }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'expire'; readonly key: string; readonly px: number };

interface Pool {
  idle: Redis[];
  open: number;
  waiters: ((conn: Redis | undefined) => void)[];
}

const toBuffer = (value: Bytes): Buffer =>
  Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);

function checkTtl(ttl: unknown): number | undefined {
  assertTtl(ttl);
  if (ttl !== undefined && ttl > MAX_TTL_MS) {
    throw new CacheError('invalid_ttl', `ttl must be at most ${MAX_TTL_MS} ms, received ${ttl}`);
  }
  return ttl === undefined ? undefined : Math.ceil(ttl);
}

function checkValue(value: unknown): Buffer {
  assertBytes(value);
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new CacheError('too_large', `cache value is larger than ${MAX_VALUE_BYTES} bytes (Redis limit)`);
  }
  return toBuffer(value);
}

/** Passwords found in the client's options, masked out of error messages. */
function secretsOf(client: Redis | Cluster): string[] {
  const o = client.options as {
    password?: string;
    sentinelPassword?: string;
    redisOptions?: { password?: string };
  };
  return [o.password, o.sentinelPassword, o.redisOptions?.password].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
}

/**
 * The error explaining the one-slot rule. `keys` are the caller's keys (without prefix) paired
 * with the full keys that were hashed.
 */
function crossSlotError(keys: readonly { key: string; slot: number }[]): CacheError {
  const seen = new Set<number>();
  const shown: string[] = [];
  for (const k of keys) {
    if (seen.has(k.slot)) continue;
    seen.add(k.slot);
    shown.push(`"${k.key}" (slot ${k.slot})`);
  }
  const list =
    shown.length > 6 ? `${shown.slice(0, 6).join(', ')} and ${shown.length - 6} more` : shown.join(', ');
  return new CacheError(
    'cross_slot',
    `transaction keys hash to different cluster slots: ${list}. In cluster mode every key of one ` +
      'transaction (watched and queued) must hash to the same slot. Give related keys a common hash ' +
      'tag — the part inside the first {…} is the only part hashed — e.g. "{user:1}:profile" and ' +
      '"{user:1}:settings" always share a slot.',
  );
}

/** Creates the transaction runner of a Redis cache. Throws ConfigError for invalid options. */
export function createTransactionRunner(options: TransactionRunnerOptions): TransactionRunner {
  const { client } = options;
  if (client === null || typeof client !== 'object' || typeof client.duplicate !== 'function') {
    throw new ConfigError('invalid transaction runner options', [
      {
        path: 'client',
        expected: 'an iovalkey Redis or Cluster',
        received: typeName(client),
        message: 'missing client',
      },
    ]);
  }
  const prefix = options.keyPrefix ?? '';
  const cluster = client.isCluster === true;
  const timeoutMs = options.commandTimeout ?? 3000;
  const maxConnections = options.maxConnections ?? 4;
  const defaultTtl = options.defaultTtl;
  const issues: ConfigIssue[] = [];
  if (options.mode !== undefined && (options.mode === 'cluster') !== cluster) {
    issues.push({
      path: 'mode',
      expected: cluster ? "'cluster' for a Cluster client" : "'standalone' or 'sentinel' for a Redis client",
      received: typeName(options.mode),
      message: 'mode does not match the client',
    });
  }
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    issues.push({
      path: 'commandTimeout',
      expected: 'a positive finite number of ms',
      received: typeName(timeoutMs),
      message: 'out of range',
    });
  }
  if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections) || maxConnections < 1) {
    issues.push({
      path: 'maxConnections',
      expected: 'an integer ≥ 1',
      received: typeName(maxConnections),
      message: 'out of range',
    });
  }
  if (defaultTtl !== undefined) {
    try {
      checkTtl(defaultTtl);
    } catch (err) {
      issues.push({
        path: 'defaultTtl',
        expected: 'a positive number of ms',
        received: typeName(defaultTtl),
        message: (err as Error).message,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError('invalid transaction runner options', issues);
  const secrets = secretsOf(client);
  const pools = new Map<string, Pool>();
  let closed = false;
  let active = 0;

  /**
   * A connection that never reconnects (a drop ends it, so a lost WATCH cannot go unnoticed),
   * never resends unanswered commands (so EXEC cannot run twice) and never queues offline.
   */
  const dedicated: Partial<RedisOptions> = {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: null,
    enableAutoPipelining: false,
    commandTimeout: timeoutMs,
    failoverDetector: false,
    connectionName: 'hyperion:tx',
  };

  /** Address of the node that owns `slot` (cluster) or `'main'`, plus a factory for connections to it. */
  async function target(slot: number | undefined): Promise<{ id: string; make: () => Redis }> {
    if (!cluster) return { id: 'main', make: () => (client as Redis).duplicate(dedicated) };
    const c = client as Cluster;
    if (c.status === 'wait') c.connect().catch(() => {});
    if (c.status !== 'ready') await waitReady(c, timeoutMs);
    const id = c.slots[slot ?? 0]?.[0];
    const node = id && c.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === id);
    if (!node) {
      c.refreshSlotsCache();
      throw new CacheError('unavailable', `redis transaction failed: no master known for slot ${slot ?? 0}`);
    }
    return { id, make: () => node.duplicate(dedicated) };
  }

  async function acquire(id: string, make: () => Redis): Promise<Redis> {
    let pool = pools.get(id);
    if (!pool) {
      pool = { idle: [], open: 0, waiters: [] };
      pools.set(id, pool);
    }
    for (let conn = pool.idle.pop(); conn; conn = pool.idle.pop()) {
      if (conn.status === 'ready') return conn;
      discard(pool, conn);
    }
    if (pool.open < maxConnections) {
      pool.open++;
      const conn = make();
      conn.on('error', () => {}); // failures surface on the commands; 'error' must have a listener
      try {
        await bounded(conn.connect(), timeoutMs, 'connecting');
        return conn;
      } catch (err) {
        discard(pool, conn);
        pool.waiters.shift()?.(undefined);
        throw toCacheError('transaction', err, secrets);
      }
    }
    if (pool.waiters.length >= MAX_WAITERS) {
      throw new CacheError(
        'unavailable',
        `redis transaction failed: ${MAX_WAITERS} transactions already wait for a connection`,
      );
    }
    const p = pool;
    const handed = await new Promise<Redis | undefined>((resolve) => {
      const timer = setTimeout(() => {
        p.waiters.splice(p.waiters.indexOf(wake), 1);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      const wake = (conn: Redis | undefined) => {
        clearTimeout(timer);
        resolve(conn);
      };
      p.waiters.push(wake);
    });
    if (closed) {
      if (handed) discard(p, handed);
      throw new CacheError('closed', 'redis transaction failed: the cache is closed');
    }
    if (handed) return handed;
    // Woken without a connection (one was discarded): open a fresh one, else time out.
    if (p.open < maxConnections) return acquire(id, make);
    throw new CacheError(
      'timeout',
      `redis transaction failed: no transaction connection free within ${timeoutMs} ms (maxConnections ${maxConnections})`,
    );
  }

  function release(id: string, conn: Redis, reusable: boolean): void {
    const pool = pools.get(id);
    if (!pool) return void conn.disconnect();
    if (!reusable || closed || conn.status !== 'ready') {
      discard(pool, conn);
      pool.waiters.shift()?.(undefined);
      return;
    }
    const next = pool.waiters.shift();
    if (next) next(conn);
    else pool.idle.push(conn);
  }

  function discard(pool: Pool, conn: Redis): void {
    pool.open--;
    conn.disconnect();
  }

  /** Wraps a failure; during EXEC a lost reply leaves the outcome unknown, and the message says so. */
  function fail(err: unknown, phase: 'watch' | 'exec'): CacheError {
    if (err instanceof CacheError) return err;
    // EXECABORT carries the real reason (OOM, MOVED…) in the errors of the queued commands.
    const inner = (err as { previousErrors?: unknown[] } | undefined)?.previousErrors?.[0] ?? err;
    const code = codeOf(inner);
    if (cluster && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(String((inner as Error)?.message))) {
      (client as Cluster).refreshSlotsCache();
    }
    const base = toCacheError('transaction', inner, secrets).message;
    let message = base;
    if (code === 'oom') {
      message = `redis transaction failed: the server is out of memory (maxmemory reached and its maxmemory-policy cannot evict), nothing was applied — ${base.replace(/^redis transaction failed: /, '')}`;
    } else if (phase === 'exec' && (code === 'timeout' || code === 'unavailable') && inner === err) {
      message = `${base} (the reply was lost: the transaction was applied completely or not at all)`;
    } else if (inner !== err) {
      message = `${base} (nothing was applied)`;
    }
    return new CacheError(code, message, { cause: err });
  }

  async function transaction(
    fn: TransactionFn,
    txOptions: TransactionOptions = {},
  ): Promise<TransactionResult> {
    if (closed) throw new CacheError('closed', 'redis transaction failed: the cache is closed');
    if (typeof fn !== 'function') throw new CacheError('invalid_value', 'transaction expects a function');
    const watch = txOptions?.watch ?? [];
    if (!Array.isArray(watch))
      throw new CacheError('invalid_key', 'transaction option `watch` must be an array of keys');
    for (const k of watch) assertKey(k);
    const watched = new Set(watch);

    const slotted: { key: string; slot: number }[] = [];
    const slotOf = (key: string) => {
      const slot = keySlot(prefix + key);
      slotted.push({ key, slot });
      return slot;
    };
    const firstSlot = cluster && watch.length > 0 ? slotOf(watch[0]!) : undefined;
    if (cluster) {
      for (const k of watch.slice(1)) if (slotOf(k) !== firstSlot) throw crossSlotError(slotted);
    }

    // Without WATCH nothing is sent before fn returns, so the connection is leased after it.
    let lease: { id: string; conn: Redis } | undefined;
    let reusable = false;
    active++;
    try {
      if (watch.length > 0) {
        const t = await target(firstSlot);
        lease = { id: t.id, conn: await acquire(t.id, t.make) };
        try {
          await lease.conn.watch(...watch.map((k) => prefix + k));
        } catch (err) {
          throw fail(err, 'watch');
        }
      }

      const ops: Op[] = [];
      let sealed = false;
      const open = (what: string) => {
        if (sealed) throw new CacheError('closed', `tx.${what}() called after the transaction was sent`);
      };
      const tx: TransactionBuilder = {
        async read(key) {
          open('read');
          assertKey(key);
          if (!watched.has(key) || !lease) {
            throw new CacheError(
              'invalid_key',
              `tx.read("${key}"): only watched keys can be read before the transaction — add the key to ` +
                '{ watch: [...] } to guard it, or queue tx.get() to read it inside the transaction',
            );
          }
          try {
            return (await lease.conn.getBuffer(prefix + key)) ?? undefined;
          } catch (err) {
            throw fail(err, 'watch');
          }
        },
        get(key) {
          open('get');
          assertKey(key);
          ops.push({ kind: 'get', key });
          return tx;
        },
        set(key, value, ttl) {
          open('set');
          assertKey(key);
          const px = checkTtl(ttl) ?? defaultTtl;
          ops.push({
            kind: 'set',
            key,
            value: checkValue(value),
            px: px === undefined ? undefined : Math.ceil(px),
          });
          return tx;
        },
        delete(key) {
          open('delete');
          assertKey(key);
          ops.push({ kind: 'delete', key });
          return tx;
        },
        expire(key, ttl) {
          open('expire');
          assertKey(key);
          if (ttl === undefined) throw new CacheError('invalid_ttl', 'tx.expire needs a ttl in ms');
          ops.push({ kind: 'expire', key, px: checkTtl(ttl)! });
          return tx;
        },
      };

      try {
        await fn(tx);
      } finally {
        sealed = true;
      }

      if (cluster) {
        let slot = firstSlot;
        for (const op of ops) {
          const s = slotOf(op.key);
          slot ??= s;
          if (s !== slot) throw crossSlotError(slotted);
        }
      }
      if (ops.length === 0) {
        if (lease) await lease.conn.unwatch();
        reusable = true;
        return { ok: true, results: [] };
      }
      if (!lease) {
        const t = await target(cluster ? keySlot(prefix + ops[0]!.key) : undefined);
        lease = { id: t.id, conn: await acquire(t.id, t.make) };
      }
      if (closed) throw new CacheError('closed', 'redis transaction failed: the cache is closed');

      const multi = lease.conn.multi();
      for (const op of ops) {
        const key = prefix + op.key;
        if (op.kind === 'get') multi.getBuffer(key);
        else if (op.kind === 'set') {
          if (op.px === undefined) multi.set(key, op.value);
          else multi.set(key, op.value, 'PX', op.px);
        } else if (op.kind === 'delete') multi.unlink(key);
        else multi.pexpire(key, op.px);
      }
      let replies: [Error | null, unknown][] | null;
      try {
        replies = await multi.exec();
      } catch (err) {
        throw fail(err, 'exec');
      }
      reusable = true; // EXEC (even an aborted one) clears WATCH: the connection is clean again
      if (replies === null) return { ok: false, conflict: true };
      const results = ops.map((op, i): TransactionValue => {
        const [err, value] = replies[i] ?? [new Error('missing reply'), undefined];
        if (err) {
          // Only GET can fail at run time (a key of another type); the writes were applied.
          throw new CacheError(
            'backend',
            `redis transaction was applied, but ${op.kind} of "${op.key}" failed: ${toCacheError('transaction', err, secrets).message}`,
            { cause: err },
          );
        }
        if (op.kind === 'get') return (value as Buffer | null) ?? undefined;
        if (op.kind === 'set') return true;
        return Number(value) > 0;
      });
      return { ok: true, results };
    } catch (err) {
      // fn threw, bad input, cross-slot: drop the WATCH so the connection can be reused.
      if (lease && !reusable && lease.conn.status === 'ready') {
        reusable = await lease.conn.unwatch().then(
          () => true,
          () => false,
        );
      }
      throw err;
    } finally {
      if (lease) release(lease.id, lease.conn, reusable);
      active--;
    }
  }

  return {
    transaction,
    async close() {
      if (closed) return;
      closed = true;
      const quitting: Promise<unknown>[] = [];
      for (const pool of pools.values()) {
        for (const wake of pool.waiters.splice(0)) wake(undefined);
        for (const conn of pool.idle.splice(0)) {
          pool.open--;
          quitting.push(
            bounded(conn.quit(), 1000, 'quitting')
              .catch(() => {})
              .finally(() => conn.disconnect()),
          );
        }
      }
      await Promise.all(quitting);
      // In-flight transactions discard their connection on release (closed is set).
      for (let i = 0; active > 0 && i < Math.ceil((timeoutMs + 200) / 20); i++) {
        await new Promise((r) => setTimeout(r, 20).unref());
      }
    },
  };
}

/** Rejects with a timeout CacheError when `promise` does not settle within `ms`. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new CacheError('timeout', `redis transaction failed: ${what} took longer than ${ms} ms`)),
        ms,
      );
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Waits (bounded) for a cluster client to become ready. */
function waitReady(c: Cluster, ms: number): Promise<void> {
  return bounded(
    new Promise<void>((resolve, reject) => {
      const onReady = () => {
        c.off('end', onEnd);
        resolve();
      };
      const onEnd = () => {
        c.off('ready', onReady);
        reject(new CacheError('unavailable', 'redis transaction failed: cluster connection ended'));
      };
      c.once('ready', onReady);
      c.once('end', onEnd);
    }),
    ms,
    'waiting for the cluster connection',
  ).catch((err) => {
    throw err instanceof CacheError && err.code === 'timeout'
      ? new CacheError('unavailable', `redis transaction failed: cluster not connected within ${ms} ms`)
      : err;
  });
}

export interface RetryOptions {
  /** Total tries, including the first. Default 5. */
  attempts?: number;
  /** Wait before the 2nd try in ms; doubles each time (capped at 1 s), with jitter. Default 10. */
  backoffMs?: number;
}

/**
 * Runs `run` until it does not report a WATCH conflict, at most `attempts` times, waiting
 * `backoffMs` × 2^n (randomised between half and full, so competing clients spread out) between
 * tries. Resolves the first non-conflict result, or the last conflict when every try conflicted —
 * each with `attempts` used. Errors from `run` are not retried: they reject at once.
 */
export async function retryTransaction(
  run: () => Promise<TransactionResult>,
  options: RetryOptions = {},
): Promise<TransactionResult & { readonly attempts: number }> {
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 10;
  const issues = [];
  if (typeof run !== 'function') {
    issues.push({ path: 'run', expected: 'a function', received: typeName(run), message: 'not a function' });
  }
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1 || attempts > 1000) {
    issues.push({
      path: 'attempts',
      expected: 'an integer in 1..1000',
      received: typeName(attempts),
      message: 'out of range',
    });
  }
  if (typeof backoffMs !== 'number' || !Number.isFinite(backoffMs) || backoffMs < 0) {
    issues.push({
      path: 'backoffMs',
      expected: 'a finite number of ms ≥ 0',
      received: typeName(backoffMs),
      message: 'out of range',
    });
  }
  if (issues.length > 0) throw new ConfigError('invalid retryTransaction options', issues);
  for (let attempt = 1; ; attempt++) {
    const result = await run();
    if (result.ok || !result.conflict || attempt >= attempts) return { ...result, attempts: attempt };
    const wait = Math.min(backoffMs * 2 ** (attempt - 1), 1000) * (0.5 + Math.random() / 2);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref());
  }
}
