/** `health()`: a timed PING plus the topology the client sees. Never throws. */
import type { Cluster, Redis } from 'iovalkey';
import { withTimeout } from '../../core/timeout.js';
import { toCacheError } from './errors.js';
import type { RedisMode } from './options.js';

export interface RedisNodeHealth {
  /** `host:port` as the client knows the node. */
  readonly address: string;
  readonly role: 'master' | 'replica';
  /** The client's connection to this node is ready. */
  readonly connected: boolean;
}

export interface RedisHealth {
  readonly ok: boolean;
  readonly mode: RedisMode;
  /** PING round trip in ms (cluster: the slowest master). Present when `ok`. */
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

function address(node: Redis): string {
  const { host, port } = node.options;
  const stream = (node as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  // In sentinel mode the options hold no data-node address; the socket knows where it went.
  if (stream?.remoteAddress && stream.remotePort) return `${stream.remoteAddress}:${stream.remotePort}`;
  return `${host}:${port}`;
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
      for (const n of masters)
        nodes.push({ address: address(n), role: 'master', connected: n.status === 'ready' });
      for (const n of cluster.nodes('slave')) {
        nodes.push({ address: address(n), role: 'replica', connected: n.status === 'ready' });
      }
      if (cluster.status !== 'ready' || masters.length === 0) {
        return { ok: false, mode, nodes, error: `cluster not connected (${cluster.status})` };
      }
      const latencies = await Promise.all(masters.map((m) => timedPing(m, timeoutMs)));
      return { ok: true, mode, latencyMs: Math.max(...latencies), nodes };
    }
    const redis = client as Redis;
    if (redis.status !== 'ready') return { ok: false, mode, nodes, error: `not connected (${redis.status})` };
    const latencyMs = await timedPing(redis, timeoutMs);
    const role = String(
      ((await withTimeout(redis.call('ROLE'), timeoutMs, timedOut, { unref: true })) as unknown[])[0],
    );
    nodes.push({ address: address(redis), role: role === 'master' ? 'master' : 'replica', connected: true });
    return { ok: true, mode, latencyMs, role, nodes };
  } catch (err) {
    return { ok: false, mode, nodes, error: toCacheError('health', err, secrets).message };
  }
}
