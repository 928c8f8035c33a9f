/**
 * The dedicated connections of transactions: a small pool per node, at most `maxConnections` open
 * each. A transaction that finds none free waits (bounded in time and number) for one to be
 * handed over. A connection that is not clean and ready on release is discarded, never reused.
 */
import type { Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../../core/errors.js';
import { withTimeout } from '../../../core/timeout.js';
import { LOADING } from '../client.js';
import { closedError, toCacheError } from '../errors.js';
import { describeNodes } from '../nodes.js';
import { dedicatedOptions, findTarget } from './nodes.js';

/** Transactions allowed to wait for a free connection at once; beyond this they fail at once. */
const MAX_WAITERS = 1000;
/** Longest wait for QUIT's reply when closing (ms). */
const QUIT_MS = 1000;

/** A connection held by one transaction; `id` is the node's pool. */
export interface Lease {
  readonly id: string;
  readonly conn: Redis;
}

export interface ConnectionPool {
  /**
   * A connection to the node that owns `slot` (cluster; or to `movedTo`, the `host:port` a MOVED
   * reply named) or to the server, within `budgetMs` (default: the command timeout) for waiting
   * for the cluster client, connecting and waiting for a free connection together. Rejects with
   * CacheError.
   */
  lease(slot: number | undefined, movedTo?: string, budgetMs?: number): Promise<Lease>;
  /** Gives the connection back; `reusable`: it holds no WATCH and no half-read reply. */
  release(lease: Lease, reusable: boolean): void;
  /**
   * Sentinel mode: whether `conn` still talks to the node the cache's own connection is on. That
   * one follows `+switch-master`; a dedicated connection does not, and a demoted master can keep
   * accepting writes for seconds (until the sentinels reconfigure it), writes that are then lost.
   * `true` when that cannot be told (not sentinel mode, or the cache is not connected).
   */
  current(conn: Redis): boolean;
  /** Wakes the waiters (they reject with `closed`) and quits the idle connections. */
  close(): Promise<void>;
  /**
   * After `close()`: disconnects the connections still leased (a transaction whose `fn` never
   * returned). Their transactions can no longer send EXEC; later calls of theirs fail.
   */
  disconnectLeased(): void;
}

interface Pool {
  idle: Redis[];
  open: number;
  /** Woken with a connection handed over, or `undefined` when one was discarded (room to open one). */
  waiters: ((conn: Redis | undefined) => void)[];
}

export interface PoolOptions {
  readonly client: Redis | Cluster;
  readonly timeoutMs: number;
  readonly maxConnections: number;
  readonly secrets: readonly string[];
}

function discard(pool: Pool, conn: Redis): void {
  pool.open--;
  conn.disconnect();
}

/** Opens one more connection of `pool` (bounded by `timeoutMs`); rejects with CacheError. */
async function openConnection(
  pool: Pool,
  make: () => Redis,
  timeoutMs: number,
  secrets: readonly string[],
): Promise<Redis> {
  pool.open++;
  const conn = make();
  conn.on('error', () => {}); // failures surface on the commands; 'error' must have a listener
  // The node (or the sentinels asked for it) is named, and the connection's last error is the cause.
  let lastError: unknown;
  conn.on('error', (err) => {
    lastError = err;
  });
  // A server still loading its data (a restart, DEBUG RELOAD; found on a cluster master): the
  // connection is up but its ready check waits for the load. That said only "connecting took
  // longer than …" (`timeout`); it is now `unavailable` with the reason, as for the cache's own
  // connection (./gate.ts).
  let loading = false;
  conn.on(LOADING, (err: Error) => {
    lastError = err;
    loading = true;
  });
  const tooSlow = () =>
    new CacheError(
      loading ? 'unavailable' : 'timeout',
      `redis transaction failed (${describeNodes(conn)}): connecting took longer than ${timeoutMs} ms${lastError ? `: ${toCacheError('transaction', lastError, secrets).message.replace(/^redis transaction failed: /, '')}` : ''}`,
      { cause: lastError },
    );
  try {
    await withTimeout(conn.connect(), timeoutMs, tooSlow, { unref: true });
    return conn;
  } catch (err) {
    discard(pool, conn);
    pool.waiters.shift()?.(undefined);
    // A connection the server refused during its set-up (iovalkey's ready check answered BUSY, an
    // ACL refusal …) is closed by iovalkey, and connect() rejects with a bare "Connection is
    // closed.": the server's reply, emitted as 'error' just before, is the reason.
    const why =
      lastError !== undefined && /^Connection is closed/.test(String((err as Error)?.message))
        ? lastError
        : err;
    throw toCacheError('transaction', why, secrets, describeNodes(conn));
  }
}

/** Waits for a connection to be handed over; `undefined` when woken without one or on timeout. */
function handover(pool: Pool, timeoutMs: number): Promise<Redis | undefined> {
  let wake!: (conn: Redis | undefined) => void;
  const handed = new Promise<Redis | undefined>((resolve) => {
    wake = resolve;
    pool.waiters.push(wake);
  });
  // Leaves the queue in the timer's own turn, so no connection can be handed to a caller gone.
  const leave = () => {
    pool.waiters.splice(pool.waiters.indexOf(wake), 1);
    return new CacheError('timeout', 'no transaction connection handed over in time');
  };
  return withTimeout(handed, timeoutMs, leave, { unref: true }).catch(() => undefined);
}

export function createConnectionPool(options: PoolOptions): ConnectionPool {
  const { client, timeoutMs, maxConnections, secrets } = options;
  const dedicated = dedicatedOptions(timeoutMs);
  const pools = new Map<string, Pool>();
  /** Connections handed to a transaction and not given back yet. */
  const leased = new Set<Redis>();
  let closed = false;

  // Sentinel mode: a pooled connection is stale once the cache's own connection came up again
  // (it follows +switch-master) on another node than the pooled one. Both tests together: a
  // reconnect alone (a blip) or a different peer alone (one master, two addresses) is no failover.
  const sentinel =
    !client.isCluster && ((client.options as { sentinels?: unknown[] }).sentinels?.length ?? 0) > 0;
  let generation = 0;
  const born = new WeakMap<Redis, number>();
  const onReady = () => {
    generation++;
  };
  if (sentinel) client.on('ready', onReady);
  const peer = (r: Redis) => {
    const stream = (r as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
    return stream?.remotePort === undefined ? undefined : `${stream.remoteAddress}:${stream.remotePort}`;
  };
  const current = (conn: Redis): boolean => {
    if (!sentinel || client.status !== 'ready' || (born.get(conn) ?? generation) >= generation) return true;
    const master = peer(client as Redis);
    return master === undefined || peer(conn) === master;
  };
  const make = (target: () => Redis) => () => {
    const conn = target();
    born.set(conn, generation);
    return conn;
  };

  async function acquire(pool: Pool, make: () => Redis, end: number): Promise<Redis> {
    for (let conn = pool.idle.pop(); conn; conn = pool.idle.pop()) {
      if (conn.status === 'ready' && current(conn)) return conn;
      discard(pool, conn);
    }
    const left = Math.max(0, end - Date.now());
    if (pool.open < maxConnections) return openConnection(pool, make, left, secrets);
    if (pool.waiters.length >= MAX_WAITERS) {
      throw new CacheError(
        'unavailable',
        `redis transaction failed: ${MAX_WAITERS} transactions already wait for a connection`,
      );
    }
    const handed = await handover(pool, left);
    if (closed) {
      if (handed) discard(pool, handed);
      throw closedError('transaction');
    }
    if (handed) return handed;
    // Woken without a connection (one was discarded): open a fresh one, else time out.
    if (pool.open < maxConnections) return acquire(pool, make, end);
    throw new CacheError(
      'timeout',
      `redis transaction failed: no transaction connection free within ${left} ms (maxConnections ${maxConnections})`,
    );
  }

  return {
    async lease(slot, movedTo, budgetMs = timeoutMs) {
      const end = Date.now() + budgetMs;
      const target = await findTarget(client, slot, dedicated, budgetMs, movedTo);
      let pool = pools.get(target.id);
      if (!pool) {
        pool = { idle: [], open: 0, waiters: [] };
        pools.set(target.id, pool);
      }
      const conn = await acquire(pool, make(target.make), end);
      leased.add(conn);
      return { id: target.id, conn };
    },

    current,

    release({ id, conn }, reusable) {
      leased.delete(conn);
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
    },

    async close() {
      closed = true;
      client.off('ready', onReady);
      const quitting: Promise<unknown>[] = [];
      const tooSlow = () =>
        new CacheError('timeout', `redis transaction failed: quitting took longer than ${QUIT_MS} ms`);
      for (const pool of pools.values()) {
        for (const wake of pool.waiters.splice(0)) wake(undefined);
        for (const conn of pool.idle.splice(0)) {
          pool.open--;
          quitting.push(
            withTimeout(conn.quit(), QUIT_MS, tooSlow, { unref: true })
              .catch(() => {})
              .finally(() => conn.disconnect()),
          );
        }
      }
      await Promise.all(quitting);
    },

    disconnectLeased() {
      for (const conn of leased) conn.disconnect();
    },
  };
}
