/**
 * Where a transaction runs: the server itself, or in a cluster the master that owns the slot of its
 * keys. Connections to it are dedicated (see ./runner.ts for why) and built to fail rather than
 * hide a drop.
 */
import type { Cluster, Redis, RedisOptions } from 'iovalkey';
import { CacheError } from '../../../core/errors.js';
import { withTimeout } from '../../../core/timeout.js';

/** A node a transaction can run on: `id` names its pool, `make` opens a dedicated connection to it. */
export interface Target {
  readonly id: string;
  make(): Redis;
}

/**
 * Options of a dedicated connection: it never reconnects (a drop ends it, so a lost WATCH cannot go
 * unnoticed), never resends unanswered commands (so EXEC cannot run twice) and never queues offline.
 */
export function dedicatedOptions(timeoutMs: number): Partial<RedisOptions> {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // Sentinel mode: one round over the sentinels, then fail (`unavailable`, naming them) — not
    // iovalkey's default of asking them again until the command timeout ends the wait (`timeout`).
    sentinelRetryStrategy: () => null,
    reconnectOnError: null,
    enableAutoPipelining: false,
    commandTimeout: timeoutMs,
    failoverDetector: false,
    connectionName: 'hyperion:tx',
  };
}

/**
 * The node that owns `slot` (cluster; waits, bounded, for the cluster client) or `'main'`; in a
 * cluster, `movedTo` (`host:port` of a MOVED reply) names the owner instead of the slot map, which
 * may not know the new owner yet.
 */
export async function findTarget(
  client: Redis | Cluster,
  slot: number | undefined,
  dedicated: Partial<RedisOptions>,
  timeoutMs: number,
  movedTo?: string,
): Promise<Target> {
  if (!client.isCluster) return { id: 'main', make: () => (client as Redis).duplicate(dedicated) };
  const c = client as Cluster;
  if (c.status === 'wait') c.connect().catch(() => {});
  if (c.status !== 'ready') await waitReady(c, timeoutMs);
  const any = c.nodes('all')[0];
  const colon = movedTo?.lastIndexOf(':') ?? -1;
  if (movedTo && any && colon > 0) {
    const host = movedTo.slice(0, colon);
    const port = Number(movedTo.slice(colon + 1));
    return { id: movedTo, make: () => any.duplicate({ ...dedicated, host, port }) };
  }
  const id = c.slots[slot ?? 0]?.[0];
  const node = id && c.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === id);
  if (!node) {
    c.refreshSlotsCache();
    throw new CacheError('unavailable', `redis transaction failed: no master known for slot ${slot ?? 0}`);
  }
  return { id, make: () => node.duplicate(dedicated) };
}

/** Waits (bounded) for a cluster client to become ready. */
function waitReady(c: Cluster, ms: number): Promise<void> {
  const ready = new Promise<void>((resolve, reject) => {
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
  });
  const notConnected = () =>
    new CacheError(
      'unavailable',
      `redis transaction failed: cluster not connected within ${Math.round(ms)} ms`,
    );
  return withTimeout(ready, ms, notConnected, { unref: true });
}
