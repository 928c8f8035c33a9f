/** The types of Redis transactions: what the caller's function receives and what it gets back. */
import type { Cluster, Redis } from 'iovalkey';
import type { Bytes } from '../../../core/contracts.js';

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
  watch?: readonly string[] | undefined;
}

export interface TransactionRunnerOptions {
  /** The cache's iovalkey client; transactions use their own connections built from its options. */
  client: Redis | Cluster;
  /** Prepended to every key (the cache's `keyPrefix`). Default `''`. */
  keyPrefix?: string | undefined;
  /** Topology, checked against the client (`cluster` ⇔ a Cluster client). Default: from `client.isCluster`. */
  mode?: 'standalone' | 'cluster' | 'sentinel' | undefined;
  /** Bound in ms for every command of a transaction and for waiting for a connection. Default 3000. */
  commandTimeout?: number | undefined;
  /** TTL in ms for `set` without one (the cache's `defaultTtl`). Default: no expiry. */
  defaultTtl?: number | undefined;
  /** Dedicated connections per node (= concurrent transactions per node). Default 4. */
  maxConnections?: number | undefined;
  /**
   * Called with the keys (without prefix) a transaction writes (set, delete, expire) just before
   * it is sent: the cache marks its loads in flight for those keys, so that a load begun before
   * the transaction does not store its (superseded) value after it.
   */
  onWrite?: ((keys: readonly string[]) => void) | undefined;
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
   * Every wait of the call together (connecting, WATCH, reads, EXEC) takes at most the command
   * timeout counted from `startedAt` (when the caller called it; default now), plus `fn`'s own time.
   * `admit`, if given, is awaited first (the cache's connection gate); the transaction counts as
   * in flight from the call, so a `close()` right after it waits for it.
   */
  transaction(
    fn: TransactionFn,
    options?: TransactionOptions,
    startedAt?: number,
    admit?: () => Promise<void>,
  ): Promise<TransactionResult>;
  /**
   * Refuses later transactions (`closed`); waits (at most the command timeout + 200 ms) for those
   * in flight, which complete as usual, then quits the dedicated connections and drops those of
   * any still running (an `fn` that never returns: it applies nothing). Idempotent.
   */
  close(): Promise<void>;
}
