/** `health()`: a timed PING plus the topology the client sees. Never throws. */
import type { Cluster, Redis } from 'iovalkey';
import { withTimeout } from '../../core/timeout.js';
import { toCacheError } from './errors.js';
import { describeNodes, nodeAddress } from './nodes.js';
import type { RedisMode } from './options.js';

export interface RedisNodeHealth {
  /** `host:port` as the client knows the node. */
  readonly address: string;
  readonly role: 'master' | 'replica';
  /**
   * The node answered this probe's PING (the probe connects a connection the client opened lazily,
   * e.g. to a replica that rejoined after a failover and serves no reads yet).
   */
  readonly connected: boolean;
  /** Why it did not answer, when it did not. */
  readonly error?: string;
}

export interface RedisHealth {
  readonly ok: boolean;
  readonly mode: RedisMode;
  /**
   * PING round trip in ms (cluster: the slowest master). Present when `ok`. In a cluster, `ok` means
   * every master answered and every slot's owner in the client's slot map answered (a killed
   * master not yet failed over is in no node list but still owns its slots); `nodes` then lists every node with its own answer, so a replica that does
   * not answer shows `connected: false` next to `ok: true` only when it really did not answer.
   */
  readonly latencyMs?: number;
  /** Role reported by the server the client is connected to (standalone/sentinel), from `ROLE`. */
  readonly role?: string;
  readonly nodes: readonly RedisNodeHealth[];
  /** Why it is not ok (no secrets). */
  readonly error?: string;
}

/** Like the client's own command timeout, so that it maps to CacheError('timeout'). */
const timedOut = () => new Error('Command timed out');

async function timedPing(node: Redis, ms: number): Promise<number> {
  const start = performance.now();
  await withTimeout(node.ping(), ms, timedOut, { unref: true });
  return performance.now() - start;
}

/** PINGs one cluster node (connecting it if the client opened it lazily); never rejects. */
async function probeNode(
  node: Redis,
  role: 'master' | 'replica',
  ms: number,
  secrets: readonly (string | undefined)[],
): Promise<RedisNodeHealth & { latency?: number }> {
  const address = nodeAddress(node);
  try {
    if (node.status === 'wait') await withTimeout(node.connect(), ms, timedOut, { unref: true });
    const latency = await timedPing(node, ms);
    return { address, role, connected: true, latency };
  } catch (err) {
    return { address, role, connected: false, error: toCacheError('health', err, secrets, address).message };
  }
}

/**
 * Slot ranges whose owner (per the client's slot map) is not a node that answered: a master the
 * client dropped after its connection ended (killed, not yet failed over) is in no node list, but
 * its slots still point to it and every command on them fails. `undefined` when all are served.
 */
function unservedSlots(cluster: Cluster, answered: ReadonlySet<string>): string | undefined {
  const ranges: string[] = [];
  let start = -1;
  let owner: string | undefined;
  const flush = (end: number) => {
    if (start >= 0) ranges.push(`${start}-${end} on ${owner ?? 'no node'}`);
    start = -1;
  };
  for (let slot = 0; slot < 16384; slot++) {
    const o = cluster.slots[slot]?.[0];
    const served = o !== undefined && answered.has(o);
    if (!served && (start < 0 || o !== owner)) {
      flush(slot - 1);
      start = slot;
      owner = o;
    } else if (served) flush(slot - 1);
  }
  flush(16383);
  return ranges.length === 0 ? undefined : `slots whose owner did not answer: ${ranges.join(', ')}`;
}

export async function probeHealth(
  client: Redis | Cluster,
  mode: RedisMode,
  timeoutMs: number,
  secrets: readonly (string | undefined)[],
): Promise<RedisHealth> {
  const nodes: RedisNodeHealth[] = [];
  try {
    if (client.isCluster) {
      const cluster = client as Cluster;
      const masters = cluster.nodes('master');
      if (cluster.status !== 'ready' || masters.length === 0) {
        for (const n of masters)
          nodes.push({ address: nodeAddress(n), role: 'master', connected: n.status === 'ready' });
        for (const n of cluster.nodes('slave'))
          nodes.push({ address: nodeAddress(n), role: 'replica', connected: n.status === 'ready' });
        return { ok: false, mode, nodes, error: `cluster not connected (${cluster.status})` };
      }
      const replicas = cluster.nodes('slave');
      const probed = await Promise.all([
        ...masters.map((n) => probeNode(n, 'master', timeoutMs, secrets)),
        ...replicas.map((n) => probeNode(n, 'replica', timeoutMs, secrets)),
      ]);
      for (const { latency: _latency, ...n } of probed) nodes.push(n);
      const down = probed.filter((n) => n.role === 'master' && !n.connected);
      if (down.length > 0)
        return { ok: false, mode, nodes, error: down.map((n) => n.error ?? n.address).join('; ') };
      // A stale owner that answered (e.g. demoted by CLUSTER FAILOVER, not yet re-read) still
      // serves its slots through a MOVED reply, which the client follows: only a silent or unknown
      // owner leaves them unserved.
      const answered = new Set(
        [...masters, ...replicas]
          .filter((_, i) => probed[i]?.connected)
          .map((n) => `${n.options.host}:${n.options.port}`),
      );
      const unserved = unservedSlots(cluster, answered);
      if (unserved) return { ok: false, mode, nodes, error: unserved };
      const latencyMs = Math.max(...probed.filter((n) => n.role === 'master').map((n) => n.latency!));
      return { ok: true, mode, latencyMs, nodes };
    }
    const redis = client as Redis;
    if (redis.status !== 'ready')
      return { ok: false, mode, nodes, error: `not connected to ${describeNodes(redis)} (${redis.status})` };
    const latencyMs = await timedPing(redis, timeoutMs);
    const role = String(
      ((await withTimeout(redis.call('ROLE'), timeoutMs, timedOut, { unref: true })) as unknown[])[0],
    );
    nodes.push({
      address: nodeAddress(redis),
      role: role === 'master' ? 'master' : 'replica',
      connected: true,
    });
    return { ok: true, mode, latencyMs, role, nodes };
  } catch (err) {
    return {
      ok: false,
      mode,
      nodes,
      error: toCacheError('health', err, secrets, describeNodes(client, err)).message,
    };
  }
}
