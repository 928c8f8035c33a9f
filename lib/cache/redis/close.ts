/**
 * `close()`: refuse new operations, wake the callers waiting for a connection (they reject with
 * `closed`), wait (bounded) for the transactions in flight and close their connections, wait
 * (bounded) for the commands in flight, then QUIT the client if the cache owns it — falling back
 * to a hard disconnect.
 */
import type { Cluster, Redis } from 'iovalkey';
import { withTimeout } from '../../core/timeout.js';
import type { Dispatcher } from './dispatch.js';
import type { ConnectionGate } from './gate.js';

/** Longest wait for QUIT's reply, and then for the connection's end (ms). */
const QUIT_MS = 1000;
/** Extra wait for in-flight commands beyond the command timeout that bounds each of them (ms). */
const DRAIN_SLACK_MS = 100;

export interface ClosingParts {
  readonly client: Redis | Cluster;
  /** The cache created the client (or was given it with `ownClient`): QUIT it. */
  readonly owned: boolean;
  readonly gate: ConnectionGate;
  readonly dispatch: Dispatcher;
  readonly commandTimeout: number;
  /** The `health()` probe in flight, if any (never rejects; bounded by the command timeout). */
  health(): Promise<unknown> | undefined;
  /** Closes the transaction runner. */
  closeTransactions(): Promise<void>;
  /** Removes the error listeners from the client (only when it is not owned). */
  stopReporting(): void;
  /**
   * The owned client is about to be ended: its connection errors are no longer logged (its
   * listener stays). A cache closed while its client was still connecting — a test's app closed
   * right after it was built, a reload soon after a start — logged "redis connection error …
   * Stream isn't writeable and enableOfflineQueue options is false", the failure of the
   * connection's own ready check that the close's disconnect cut.
   */
  ending(): void;
}

/** Waits for `work` to settle, at most `ms`; never rejects. */
function within(work: Promise<unknown>, ms: number): Promise<void> {
  return withTimeout(work, ms, () => new Error(`not settled within ${ms} ms`), { unref: true }).then(
    () => {},
    () => {},
  );
}

export async function closeCache(p: ClosingParts): Promise<void> {
  p.gate.close();
  // Callers still waiting for the connection reject with `closed` now — transactions too, which
  // wait at the gate first: released after the transactions' drain, they held close() for up to
  // a command timeout while Redis was down.
  p.gate.release();
  await p.closeTransactions();
  await within(p.dispatch.idle(), p.commandTimeout + DRAIN_SLACK_MS);
  const probing = p.health();
  if (probing) await within(probing, p.commandTimeout + DRAIN_SLACK_MS);
  if (!p.owned) {
    p.stopReporting();
    return;
  }
  // An owned client keeps its error listener: a late socket error after quit must not crash.
  p.ending();
  await quit(p.client);
}

async function quit(client: Redis | Cluster): Promise<void> {
  // Also for a cluster already ended: a connect in flight may still complete.
  if (client.isCluster) stayClosed(client as Cluster);
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  // QUIT lets the server answer everything sent before it; a hard disconnect is the fallback.
  if (client.status === 'ready') await within(client.quit(), QUIT_MS);
  // Between reconnect attempts there is no socket, so no 'end' follows the disconnect.
  const waitEnd = client.status !== 'reconnecting';
  // Taken before the disconnect, which drops a cluster's nodes from its pool.
  const sockets = client.isCluster ? (client as Cluster).nodes() : [client as Redis];
  let done = false;
  void ended.then(() => {
    done = true;
  });
  client.disconnect();
  if (!waitEnd) return;
  await within(ended, QUIT_MS);
  if (done) return;
  // The disconnect half-closes the socket and waits for the server's side of it, up to the
  // client's `disconnectTimeout` (iovalkey's default 2 s, for an injected client). A server that
  // answers nothing (stopped, SIGSTOP) never closes it: close() resolved with the client still
  // 'ready' for another second, and the other caches over that client (`ownClient` on one of
  // them) waited their command timeout for "not connected within … ms" meanwhile, instead of
  // failing at once with "connection ended". So the sockets are cut now.
  for (const conn of sockets) conn.stream?.destroy();
  await within(ended, QUIT_MS);
}

/**
 * Keeps a closed cluster client closed: a connect in flight at `disconnect()` can still complete,
 * and the client would turn 'ready' after the close, with node connections that keep the process
 * alive (seen as a test file that never exited) — so a 'ready' after the close is closed again.
 * (The periodic slot refresh, the other thing that outlived a close, is ours: see ./client.ts.)
 */
function stayClosed(cluster: Cluster): void {
  cluster.once('ready', () => cluster.disconnect());
}
