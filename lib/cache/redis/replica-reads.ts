/**
 * Where a cluster client with `cluster.readOnly` sends a read: a replica of the key's slot that
 * can answer it, else the slot's master.
 *
 * With iovalkey's `scaleReads: 'slave'` a replica still loading its data (restarted with a large
 * RDB/AOF, or in a full resync from its master) kept getting the reads of its slots, although
 * the master was healthy: found from outside on the 6-node cluster, every `get`/`has` of those
 * slots failed `unavailable` after ~320 ms ("Too many Cluster redirections. Last error: …
 * LOADING" — iovalkey retries a `LOADING` read on a random node and then on replicas only) and
 * `getMany` at once with `LOADING`; a replica restarted with its data failed them all with
 * `timeout` after the whole command timeout (its new connection waits in the ready check).
 * Here a read goes only to a replica whose connection is ready and that is not known to be
 * loading; with none, to the master. A replica that answers `LOADING` is left alone until an
 * `INFO` (one every `LOADING_RECHECK_MS`, on its own connection) says the load is over.
 * Likewise a replica that let a read time out (a hung server, SIGSTOP: reads of its slots timed
 * out for ~10 s, until the cluster had failed it and the slot map was re-read) is left alone
 * until it answers a `PING` (`avoidSilentReplicas`).
 * The choice itself allocates nothing; iovalkey builds the list of node connections it passes
 * (one small array per read, which its `'slave'` mode did not need).
 */
import type { Cluster, Redis } from 'iovalkey';
import { keyOfError } from './nodes.js';
import { keySlot } from './slots.js';

/** Replica connections that answered `LOADING`, until their server says it has loaded. */
const loading = new WeakSet<object>();
/** Replica connections suspected of a read's timeout, until they answer a `PING`. */
const silent = new WeakSet<object>();

/** A node that can take reads now: connected (its ready check passed), not loading, not silent. */
const serves = (node: Redis | undefined): node is Redis =>
  node !== undefined && node.status === 'ready' && !loading.has(node) && !silent.has(node);

/**
 * iovalkey's `scaleReads` as a function: `nodes` are the slot's node connections, master first
 * (`undefined` for one the pool lacks, e.g. a replica whose connection ended: the next slot-map
 * read makes it again). A replica not connected yet (connections are lazy) is connected here,
 * and serves reads once it is ready; the read at hand goes to another replica or the master.
 * That is done also while another replica of the slot is ready: it was done only when none was,
 * so a replica that joined a master's replicas (or came back after a restart) while another one
 * served the reads stayed in `wait` and never got a read (found from outside: a second replica
 * added to a running cluster got 0 of 200 reads, the first all 200; replica-choice.test.ts).
 */
export function replicaOrMaster(nodes: readonly (Redis | undefined)[]): Redis | undefined {
  let usable = 0;
  for (let i = 1; i < nodes.length; i++) {
    const node = nodes[i];
    // Failures of that connect reach the cluster's 'node error'.
    if (node?.status === 'wait') node.connect().catch(() => {});
    else if (serves(node)) usable++;
  }
  if (usable === 0) return nodes[0];
  let pick = Math.floor(Math.random() * usable);
  for (let i = 1; i < nodes.length; i++) {
    const node = nodes[i];
    if (serves(node) && pick-- === 0) return node;
  }
  return nodes[0];
}

/**
 * Errors of reads on a replica connection that are resent to the slot's master: `LOADING`
 * replies, and "Connection is closed." (marked before iovalkey handles them).
 */
const fromReplica = new WeakSet<Error>();

/** iovalkey's message for the commands of a connection that closed (`CONNECTION_CLOSED_ERROR_MSG`). */
const CONNECTION_CLOSED = 'Connection is closed.';

/**
 * Watches the node connections of `cluster` for `LOADING` replies (through iovalkey's
 * per-connection `reconnectOnError` hook, called for error replies only, never asking for a
 * reconnect) and keeps such a node out of `replicaOrMaster`'s choice while it loads.
 *
 * A read already sent to such a replica is resent to its slot's master at once. iovalkey would
 * resend it after `retryDelayOnTryAgain` to a random node of the cluster — the loading replica
 * again one time in six, and after three such replies the read failed "Too many Cluster
 * redirections". Its own rule for `scaleReads: 'all'` (retry on the master) is used: the option
 * reads 'all' for the duration of that synchronous call. Left as is if iovalkey has no
 * `handleError` (another version).
 *
 * Reads a replica connection held when it closed (the replica killed, before the cluster fails
 * it) go to the master the same way. iovalkey resent each after 100 ms to a random node: another
 * master (a `MOVED`, one of the `maxRedirects`), or the dead replica's new connection (closed
 * again); found from outside under load, 1 run in 6 of replica-reads.test.ts: "Too many Cluster
 * redirections. Last error: MOVED …" for a read whose master was healthy. They are marked where
 * the connection fails its queue (`flushQueue`, left as is if it has another shape).
 */
export function avoidLoadingReplicas(cluster: Cluster, recheckMs: number): void {
  cluster.on('+node', (node: Redis) => {
    const options = node.options;
    // iovalkey calls it as a method of the connection's options; a `duplicate()` of the node (a
    // transaction's or health probe's own connection) copies them, and its replies are not this
    // node's.
    options.reconnectOnError = function (this: unknown, err: Error) {
      if (this === options && /^LOADING\b/.test(err.message)) {
        leaveWhileLoading(node, recheckMs);
        if (options.readOnly) fromReplica.add(err);
      }
      return false;
    };
    const connection = node as unknown as { flushQueue?: (error: Error, options?: unknown) => void };
    const flushQueue = connection.flushQueue;
    if (typeof flushQueue === 'function')
      connection.flushQueue = function (this: unknown, error: Error, flushOptions?: unknown) {
        if (options.readOnly && error?.message === CONNECTION_CLOSED) fromReplica.add(error);
        return flushQueue.call(this, error, flushOptions);
      };
  });
  type Handlers = { loading?: unknown };
  const c = cluster as unknown as {
    handleError?: (e: Error, ttl: unknown, h: Handlers) => unknown;
    options: { scaleReads?: unknown };
  };
  const handleError = c.handleError;
  if (typeof handleError !== 'function') return;
  c.handleError = function (this: typeof c, error, ttl, handlers) {
    if (!fromReplica.has(error) || typeof handlers?.loading !== 'function') {
      return handleError.call(this, error, ttl, handlers);
    }
    const scaleReads = this.options.scaleReads;
    this.options.scaleReads = 'all';
    try {
      (handlers.loading as () => void)();
    } finally {
      this.options.scaleReads = scaleReads;
    }
  };
}

function leaveWhileLoading(node: Redis, recheckMs: number): void {
  if (loading.has(node)) return;
  loading.add(node);
  const check = () => {
    if (node.status !== 'ready') {
      // Ended (the pool makes a new connection, whose ready check waits for the load) or
      // closing: nothing more to ask this one.
      loading.delete(node);
      return;
    }
    node.info('persistence').then(
      (info) => {
        if (/^loading:1\b/m.test(String(info))) setTimeout(check, recheckMs).unref();
        else loading.delete(node);
      },
      // Not answered (refused by an ACL without +info, connection lost): tried again by the
      // reads themselves — the next `LOADING` reply leaves it alone again.
      () => loading.delete(node),
    );
  };
  setTimeout(check, recheckMs).unref();
}

/**
 * After a command on `key` (or the batch part `markKey` named in `err`) timed out on a cluster
 * client of ours that reads from replicas: the replicas of its slot leave the choice of
 * `replicaOrMaster` until they answer a `PING` (asked again every `recheckMs` while unanswered,
 * on their own connection). A replica that was only slow (or a master that was the one to hang)
 * answers at once and is back. Nothing for other clients.
 */
export function avoidSilentReplicas(
  cluster: Cluster,
  err: unknown,
  key: string | undefined,
  recheckMs: number,
): void {
  if (cluster.options.scaleReads !== replicaOrMaster) return;
  key ??= keyOfError(err);
  const nodes = key === undefined ? undefined : cluster.slots[keySlot(key)];
  if (nodes === undefined || nodes.length < 2) return;
  for (const replica of cluster.nodes('slave')) {
    if (!nodes.includes(`${replica.options.host}:${replica.options.port}`) || silent.has(replica)) continue;
    silent.add(replica);
    const check = () => {
      if (replica.status !== 'ready') {
        silent.delete(replica); // ended or closing: a new connection is judged afresh
        return;
      }
      replica.ping().then(
        () => silent.delete(replica),
        () => setTimeout(check, recheckMs).unref(),
      );
    };
    check();
  }
}
