/**
 * Sending one backend operation: the connection gate, in-flight tracking (so `close()` can wait
 * for the commands sent), mapping failures to CacheError, and counting and reporting them. The
 * parts of the cache share this, plus the client and the counters, as their context.
 */
import type { Cluster, Redis } from 'iovalkey';
import type { Bytes } from '../../core/contracts.js';
import type { CacheError } from '../../core/errors.js';
import { withTimeout } from '../../core/timeout.js';
import { LOADING_RECHECK_MS, nodeLoading } from './client.js';
import type { GuardedWrites } from './deadline.js';
import { type DirectGetHooks, directGet } from './direct-get.js';
import { closedError, loadingTimeoutError, toCacheError } from './errors.js';
import { type ConnectionGate, isReady } from './gate.js';
import { describeNodes, ownerNode } from './nodes.js';
import { avoidSilentReplicas } from './replica-reads.js';
import type { Report } from './report.js';
import { type Counters, countReply } from './stats.js';
import { steadyNow } from './steady.js';
import { faultError } from './tls.js';

export interface Dispatcher {
  /**
   * Waits (bounded) until the gate lets `op` through, or rejects as `run` would before sending:
   * `closed`, or `unavailable` (not connected, or a connection fault such as a refused password or
   * certificate), counted and reported. For operations that send on connections of their own
   * (transactions) but must fail like every other command when the cache cannot reach Redis.
   */
  admit(op: string, failFast?: boolean): Promise<void>;
  /**
   * Throws CacheError `closed` once the cache is closed: for a call that sends nothing (an empty
   * batch), which rejects after `close()` as every other call does (it resolved `[]`/`0`).
   */
  open(op: string): void;
  /** Runs `fn` once the gate lets it through; counts, reports and maps its failure. */
  run<T>(op: string, fn: () => Promise<T>, failFast?: boolean, key?: string): Promise<T>;
  /**
   * Hot path of single-key commands: when connected, one `.then` on the client's promise instead of
   * the async layers of `run()` (measurably cheaper per call under concurrency); otherwise `run()`.
   * `onError` comes from `fail(op)`, made once per operation rather than once per call.
   */
  exec<T, R>(
    op: string,
    send: () => Promise<T>,
    map: (value: T, key: string | undefined) => R,
    onError: (err: unknown) => never,
    key?: string,
  ): Promise<R>;
  /**
   * `cache.get` of the full key: on a ready plain connection the client's own promise resolves
   * with the counted reply (./direct-get.ts); otherwise `run()` and a `.then`.
   */
  get(key: string): Promise<Bytes | undefined>;
  /**
   * The rejection handler of `exec` for `op`: ends the command, counts, reports and throws. Pass
   * the full key as `key` (per call) so that the error names the node of its slot.
   */
  fail(op: string, key?: string): (err: unknown) => never;
  /**
   * The CacheError for `err` of `op`, counted and reported, for a reply that `exec`'s `map` turns
   * into a failure (it was settled already, so nothing is ended twice).
   */
  refuse(op: string, err: unknown, key?: string): CacheError;
  /** Counts and reports a backend failure that reached the cache another way (transactions). */
  failed(op: string, err: CacheError): void;
  /**
   * Bounds the caller's wait for a guarded write or delete by its `{ timeout }` budget, counted
   * from `at` (when it was called). The command keeps running: its server-side deadline ends
   * before the budget (./deadline.ts), so once the budget is spent it cannot take effect any more,
   * and its own outcome is still counted when it settles. Without this the caller waited for the
   * server's verdict, up to the whole command timeout (1 s for a 100 ms budget during a write pause).
   */
  bounded<T>(work: Promise<T>, op: string, budget: number | undefined, at: number, key?: string): Promise<T>;
  /** Resolves once no command is in flight (at once when none is). */
  idle(): Promise<void>;
  /** When (`steadyNow()`) a command last failed with `oom` (the server refused it for lack of memory). */
  lastOom(): number | undefined;
  /** Whether that refusal was of a transaction (its size is not known to ./deadline.ts `largest`). */
  lastOomTransaction(): boolean;
  /**
   * Makes every command wait, in call order, while `pending()` returns a promise (the first server
   * clock measurement of ./deadline.ts): a SET waits for it, and a command called after that SET
   * must not reach Redis before it (a delete or clear overtaken by an earlier SET would be undone).
   */
  holdWhile(pending: () => Promise<void> | undefined): void;
}

/** iovalkey's words for a command refused or dropped because the client is not connected. */
const NOT_CONNECTED =
  /isn't ready|Connection is closed|Stream isn't writeable|max retries per request|None of startup nodes|Failed to refresh slots/i;
/** iovalkey's words for a command with no reply within the command timeout. */
const TIMED_OUT = /^Command timed out/;

/** What the parts of the cache share. */
export interface CacheContext {
  readonly client: Redis | Cluster;
  /** The cache's `keyPrefix`, prepended to every key. */
  readonly prefix: string;
  readonly defaultTtl: number | undefined;
  /** Longest wait for a getOrSet loader, ms (`Infinity`: none). */
  readonly loadTimeout: number;
  readonly counters: Counters;
  readonly dispatch: Dispatcher;
  /** Deadline-guarded SETs and deletes (./deadline.ts). */
  readonly writes: GuardedWrites;
  /** The command timeout (ms; `undefined` for an injected client without one): bounds batches. */
  readonly timeout: number | undefined;
}

export function createDispatcher(
  client: Redis | Cluster,
  gate: ConnectionGate,
  counters: Counters,
  report: Report,
  secrets: readonly (string | undefined)[],
): Dispatcher {
  let drained: (() => void) | undefined;
  let held: () => Promise<void> | undefined = () => undefined;
  let oomAt: number | undefined;
  let oomTransaction = false;
  const settle = () => {
    if (--counters.inflight === 0) drained?.();
  };
  const failed = (op: string, e: CacheError) => {
    counters.errors++;
    if (e.code === 'oom') {
      oomAt = steadyNow();
      oomTransaction = op === 'transaction';
    }
    report('redis cache operation failed', { op, code: e.code, error: e.message });
  };

  const wrap = (op: string, err: unknown, key?: string) => {
    // A command on its way when the connection dropped, refused by iovalkey because it is not
    // connected again ("Cluster isn't ready …", "Connection is closed."), while a fault keeps it
    // from reconnecting (a certificate replaced by an expired one): the fault is why, and the
    // commands after it say so. It read only "Cluster isn't ready and enableOfflineQueue options
    // is false".
    const fault = NOT_CONNECTED.test(String((err as Error | undefined)?.message)) ? gate.fault() : undefined;
    if (fault) return faultError(op, fault, describeNodes(client, err, key));
    // A cluster node whose server is still loading its data (./client.ts `nodeLoading`).
    const loading =
      client.isCluster && TIMED_OUT.test(String((err as Error | undefined)?.message))
        ? nodeLoading(ownerNode(client as Cluster, err, key))
        : undefined;
    if (loading) return loadingTimeoutError(op, err, loading, describeNodes(client, err, key));
    // With `cluster.readOnly`, the next reads of that slot go to its master while its replicas
    // are checked (./replica-reads.ts).
    if (client.isCluster && TIMED_OUT.test(String((err as Error | undefined)?.message)))
      avoidSilentReplicas(client as Cluster, err, key, LOADING_RECHECK_MS);
    return toCacheError(op, err, secrets, describeNodes(client, err, key));
  };

  async function admit(op: string, failFast = false): Promise<void> {
    try {
      const wait = gate.pass(op, failFast);
      if (wait) await wait;
    } catch (err) {
      if ((err as CacheError).code !== 'closed') {
        counters.errors++;
        // With its message (the server, and why it is not connected), as a failed command's: the
        // line said only `{ op, code: 'unavailable' }`.
        report('redis cache operation failed', {
          op,
          code: (err as CacheError).code,
          error: (err as Error).message,
        });
      }
      throw err;
    }
  }

  async function run<T>(op: string, fn: () => Promise<T>, failFast = false, key?: string): Promise<T> {
    await admit(op, failFast);
    const hold = held();
    if (hold) await hold;
    counters.inflight++;
    try {
      return await fn();
    } catch (err) {
      const e = wrap(op, err, key);
      failed(op, e);
      throw e;
    } finally {
      settle();
    }
  }

  const fail = (op: string, key?: string) => (err: unknown) => {
    settle();
    const e = wrap(op, err, key);
    failed(op, e);
    throw e;
  };

  const count = (value: Buffer | null) => countReply(counters, value);
  const getHooks: DirectGetHooks = {
    reply(value) {
      settle();
      return countReply(counters, value);
    },
    fail(err, key) {
      settle();
      const e = wrap('get', err, key);
      failed('get', e);
      return e;
    },
  };
  // Auto-pipelining batches commands through its own pipeline: keep the client's method there.
  const direct = !(client.options as { enableAutoPipelining?: boolean }).enableAutoPipelining;

  return {
    admit,
    open(op) {
      if (gate.closed) throw closedError(op);
    },
    run,
    get(key) {
      if (!direct || gate.closed || !isReady(client) || held())
        return run('get', () => client.getBuffer(key), false, key).then(count);
      counters.inflight++;
      return directGet(client, key, getHooks);
    },
    exec(op, send, map, onError, key) {
      if (gate.closed || !isReady(client) || held())
        return run(op, send, false, key).then((value) => map(value, key));
      counters.inflight++;
      return send().then(
        (value) => {
          settle();
          return map(value, key);
        },
        // Cluster errors name the key's node, so the handler is made per call (only on failure).
        key !== undefined && client.isCluster ? (err) => fail(op, key)(err) : onError,
      );
    },
    fail,
    refuse(op, err, key) {
      const e = wrap(op, err, key);
      failed(op, e);
      return e;
    },
    failed,
    bounded(work, op, budget, at, key) {
      if (budget === undefined || budget === Number.POSITIVE_INFINITY) return work;
      const left = Math.max(0, budget - (steadyNow() - at));
      return withTimeout(work, left, () =>
        wrap(
          op,
          new Error(
            op === 'setMany'
              ? // A pipelined batch, not atomic: entries the server took before the deadline stay.
                `Command timed out: no reply within the caller's ${budget} ms budget; its server-side deadline has passed, so no entry not yet applied will be (entries applied before it may stay: a batch is not atomic)`
              : op === 'clear'
                ? // Rounds of UNLINKs: the keys of rounds applied before the deadline stay removed.
                  `Command timed out: no reply within the caller's ${budget} ms budget; its server-side deadline has passed, so no further round of the clear will be applied (keys removed by rounds before it stay removed)`
                : // Not "was not applied": a reply held up (by a blocked event loop, say) may come
                  // from a command Redis ran in time. What is certain is that it cannot land later.
                  `Command timed out: no reply within the caller's ${budget} ms budget; its server-side deadline has passed, so it will not be applied after this (if it was applied, it was before the deadline)`,
          ),
          key,
        ),
      );
    },
    holdWhile(pending) {
      held = pending;
    },
    lastOom: () => oomAt,
    lastOomTransaction: () => oomTransaction,
    idle() {
      if (counters.inflight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        drained = resolve;
      });
    },
  };
}
