/**
 * The connection gate: what a command does when the client is not ready. iovalkey's offline queue
 * is off (see ./client.ts), so callers wait here instead — bounded in time (the command timeout)
 * and in number — or fail at once when waiting cannot help (closed, ended, or `failFast` after the
 * connection was lost).
 */
import type { Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { MAX_TIMER_MS } from '../../core/options.js';
import { LOADING } from './client.js';
import { closedError, plainReason } from './errors.js';
import { describeNodes } from './nodes.js';
import { type ConnectionFault, ConnectionFaultError, type FaultWatch, faultError } from './tls.js';

/** iovalkey's errors when no cluster node could be reached. */
const ALL_NODES_FAILED = /Failed to refresh slots cache|None of startup nodes is available/;

/**
 * A standalone/sentinel client still 'ready' whose socket is being closed: iovalkey reconnects
 * (after a READONLY reply, see ./client.ts) and keeps the status until the socket's 'close'. A
 * command sent then failed at once with "Stream isn't writeable and enableOfflineQueue options is
 * false" (a `get` right after a refused write to a demoted master); it waits for 'ready' instead.
 */
export function closing(client: Redis | Cluster): boolean {
  if (client.isCluster) return false;
  const stream = (client as unknown as { stream?: { writable?: boolean; destroyed?: boolean } }).stream;
  return stream !== undefined && (stream.writable === false || stream.destroyed === true);
}

/** The client takes commands now: 'ready', and (standalone/sentinel) its socket is not closing. */
export function isReady(client: Redis | Cluster): boolean {
  return client.status === 'ready' && !closing(client);
}

/**
 * Fails at once the commands iovalkey holds to resend once reconnected: those written on a
 * connection that then dropped (its `prevCommandQueue`, resent only at the next 'ready'). When the
 * reconnection meets a fault that waiting cannot fix (a password rotated on the server, a replaced
 * certificate …), no 'ready' comes: a command in flight at the drop waited for the whole command
 * timeout and failed with a bare "Command timed out", while every command after it failed at once
 * naming the fault. Standalone and sentinel clients (a cluster's commands are held by its nodes).
 * `prevCommandQueue` is not typed API: if its shape changes, nothing is done (the timeout stays).
 */
function abandonResends(client: Redis | Cluster, fault: ConnectionFault): void {
  if (client.isCluster) return;
  const held = (client as unknown as { prevCommandQueue?: unknown }).prevCommandQueue as
    | { length: number; shift(): { command?: { reject?: (err: Error) => void } } | undefined }
    | null
    | undefined;
  if (!held || typeof held.shift !== 'function') return;
  // Bounded by the queue's length at entry: a reject handler cannot refill it.
  for (let n = held.length; n > 0; n--) held.shift()?.command?.reject?.(new ConnectionFaultError(fault));
}

/** Node errors kept for that message (the most recent per address). */
const MAX_NODE_ERRORS = 8;

/** Callers allowed to wait for a (re)connection at once; beyond this they fail at once. */
const MAX_WAITERS = 10_000;

export interface ConnectionGate {
  /**
   * `undefined` when the client can take commands now; otherwise a promise that resolves when it
   * can, within the command timeout. Throws (or rejects) CacheError `closed` / `unavailable`. Waits
   * not at all when `failFast` and the connection was up before (a lost connection: answer without
   * Redis) or an earlier wait already ran out (never connected). `unavailable` names the node(s)
   * and carries the client's last connection error as `cause`.
   */
  pass(op: string, failFast: boolean): Promise<void> | undefined;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Refuses every later `pass` with `closed`; callers already waiting keep waiting. */
  close(): void;
  /** Rejects the callers still waiting with `closed` and stops listening to the client. */
  release(): void;
  /**
   * Why the client is not connected, as far as known (no secrets masked here): the connection
   * fault (certificate, TLS, credentials …), else the client's last connection error.
   */
  why(): string | undefined;
  /** The connection fault (certificate, TLS, credentials …) while it lasts, else `undefined`. */
  fault(): ConnectionFault | undefined;
}

/**
 * With `faults` (./tls.ts), a connection fault that waiting cannot fix (certificate, TLS,
 * credentials) fails the waiting callers at once, and later callers until a connection is ready.
 */
export function createConnectionGate(
  client: Redis | Cluster,
  timeoutMs: number,
  faults?: FaultWatch,
): ConnectionGate {
  let closed = false;
  let everReady = client.status === 'ready';
  // A wait that ran out (never connected yet): later fail-fast callers do not wait again.
  let waitFailed = false;
  // The client's last connection error: the cause of every "not connected" rejection.
  let lastError: Error | undefined;
  let waiters = 0;
  // The callers waiting for the connection, each removed when it settles: its own timeout takes it
  // out. (They used to wait on one shared promise of the next 'ready', which kept every caller that
  // had timed out — its promise, error and timer, ~2 KB — until a connection came: a server that
  // accepts connections but never answers, SIGSTOPped or hung, grew the heap by every call made
  // during the outage, ~100 MB per 48,000 timed-out `get`s, without bound.)
  const waiting = new Set<(fault?: ConnectionFault) => void>();
  const settle = (fault?: ConnectionFault) => {
    const now = [...waiting];
    waiting.clear();
    for (const wake of now) wake(fault);
  };
  // Cluster: each node's last connection error, by address (`host:port`), since the last 'ready'.
  const nodeErrors = new Map<string, Error>();
  const readyListener = () => {
    everReady = true;
    waitFailed = false;
    lastError = undefined;
    nodeErrors.clear();
    settle();
  };
  client.on('ready', readyListener);
  const stopFaults = faults?.onFault((fault) => {
    settle(fault);
    abandonResends(client, fault);
  });
  const errorListener = (err: Error) => {
    lastError = err;
  };
  client.on('error', errorListener);
  // A server up but still loading its data (./client.ts): that is why no 'ready' comes.
  client.on(LOADING, errorListener);
  const nodeErrorListener = (err: Error, address?: unknown) => {
    lastError = err;
    if (typeof address === 'string') {
      nodeErrors.delete(address);
      nodeErrors.set(address, err);
      if (nodeErrors.size > MAX_NODE_ERRORS) nodeErrors.delete(nodeErrors.keys().next().value!);
    }
  };
  if (client.isCluster) client.on('node error', nodeErrorListener);

  /**
   * The last connection error in words. A cluster client whose nodes all failed reports only
   * "Failed to refresh slots cache." (or "None of startup nodes is available"): that becomes
   * which nodes were tried and what each answered.
   */
  const lastReason = (): string | undefined => {
    if (!lastError) return undefined;
    // A server that closes each connection at once (a proxy with no backend, a server at its
    // limits) fails iovalkey's ready check with its "max retries per request" words, which
    // named an option the cache does not take.
    const own = plainReason(lastError.message.split('\n')[0] ?? '');
    if (!client.isCluster || !ALL_NODES_FAILED.test(own)) return own;
    // The fault watch saw the nodes' own connection errors (ECONNREFUSED …); the cluster's
    // 'node error' often only "Connection is closed." of its slot-map connection.
    const seen = new Map(nodeErrors);
    for (const [address, err] of faults?.nodeErrors() ?? []) seen.set(address, err);
    const tried = [...seen].map(([address, err]) => `${address}: ${err.message.split('\n')[0]}`);
    const last = (lastError as { lastNodeError?: { message?: unknown } }).lastNodeError?.message;
    const detail = tried.length > 0 ? tried.join('; ') : typeof last === 'string' ? last : own;
    return `no cluster node answered (${detail})`;
  };

  /** CacheError `unavailable` naming the node(s), with the last connection error as cause. */
  const unavailable = (op: string, reason: string) =>
    new CacheError(
      'unavailable',
      `redis ${op} failed (${describeNodes(client)}): ${reason}${lastError ? `: ${lastReason()}` : ''}${faults?.hint() ?? ''}`,
      { cause: lastError },
    );

  function wait(op: string): Promise<void> {
    if (client.status === 'wait') client.connect().catch(() => {}); // lazy client: first use connects
    waiters++;
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wake = (fault?: ConnectionFault) => {
        clearTimeout(timer);
        if (closed) reject(closedError(op));
        else if (fault) reject(faultError(op, fault, describeNodes(client)));
        else resolve();
      };
      waiting.add(wake);
      if (timeoutMs === Number.POSITIVE_INFINITY) return;
      timer = setTimeout(
        () => {
          waiting.delete(wake);
          waitFailed = true;
          reject(unavailable(op, `not connected within ${timeoutMs} ms`));
        },
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      timer.unref();
    }).finally(() => {
      waiters--;
    });
  }

  return {
    pass(op, failFast) {
      if (closed) throw closedError(op);
      const status = client.status;
      if (status === 'ready' && !closing(client)) return undefined;
      if (status === 'end') throw unavailable(op, 'connection ended');
      const fault = faults?.current();
      if (fault) throw faultError(op, fault, describeNodes(client));
      if (failFast && (everReady || waitFailed)) throw unavailable(op, `not connected (${status})`);
      if (waiters >= MAX_WAITERS)
        throw unavailable(op, `${MAX_WAITERS} callers already wait for a connection`);
      return wait(op);
    },
    get closed() {
      return closed;
    },
    close() {
      closed = true;
    },
    fault: () => faults?.current(),
    why() {
      const fault = faults?.current();
      if (fault) return fault.reason;
      return lastError ? `${lastReason()}${faults?.hint() ?? ''}` : undefined;
    },
    release() {
      settle();
      client.off('ready', readyListener);
      stopFaults?.();
      client.off('error', errorListener);
      client.off(LOADING, errorListener);
      if (client.isCluster) client.off('node error', nodeErrorListener);
    },
  };
}
