/**
 * Which Redis node(s) an error concerns, as `host:port`, for error messages: the server of a
 * standalone client, the master a sentinel client is connected to (or the sentinels it asks), and
 * in a cluster the node owning the key's slot — or, for a redirection, the slot's owner now and the
 * node the last redirection pointed at.
 */
import type { Cluster, Redis } from 'iovalkey';
import { keySlot } from './slots.js';

type Stream = { remoteAddress?: string | undefined; remotePort?: number | undefined } | undefined;

/**
 * `host:port` as `addresses` takes it: an IPv6 host in brackets. Printed bare, `[::1]:6379` came
 * back as `::1:6379` in errors and `health()`, which `addresses` refuses as malformed.
 */
export function hostPort(host: string | undefined, port: number | undefined): string {
  return host?.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A cluster node as iovalkey names it (`host:port`, the key of its slot map and node pool, and
 * the address in a server's MOVED/ASK reply) in the `hostPort` form: iovalkey joins an IPv6 host
 * bare, so slot owners read `slot 866 on ::1:7001` where every other node name of ours is
 * `[::1]:7001`. Anything else (no port, already bracketed) is returned as is.
 */
export function nodeKeyAddress(key: string): string {
  const colon = key.lastIndexOf(':');
  const host = key.slice(0, colon);
  if (colon < 0 || !host.includes(':') || host.startsWith('[')) return key;
  return `[${host}]${key.slice(colon)}`;
}

/** `host:port` of a node connection: the socket's peer when connected, else its options. */
export function nodeAddress(node: Redis): string {
  const stream = (node as unknown as { stream?: Stream }).stream;
  if (stream?.remoteAddress && stream.remotePort) return hostPort(stream.remoteAddress, stream.remotePort);
  const { host, port } = node.options;
  return hostPort(host, port);
}

const REDIRECT = /\b(?:MOVED|ASK) (\d+) (\S+)/;

/** The full key a batch's failure concerns, set by ./batch.ts on the failing node's error. */
const failedKey = new WeakMap<object, string>();

/** Marks `err` as the failure of a cluster batch part holding `key` (first mark wins); returns it. */
export function markKey(err: unknown, key: string): unknown {
  if (typeof err === 'object' && err !== null && !failedKey.has(err)) failedKey.set(err, key);
  return err;
}

/** The key `markKey` put on `err`, if any. */
export function keyOfError(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? failedKey.get(err) : undefined;
}

/**
 * The connection of the cluster node owning the slot of a failed command on `key` (or of the
 * batch part `markKey` named), per the client's slot map; `undefined` when not known.
 */
export function ownerNode(cluster: Cluster, err: unknown, key?: string): Redis | undefined {
  key ??= keyOfError(err);
  const owner = key === undefined ? undefined : cluster.slots[keySlot(key)]?.[0];
  return owner === undefined
    ? undefined
    : cluster.nodes().find((n) => `${n.options.host}:${n.options.port}` === owner);
}

/** Describes the node(s) behind a failure of a command on `key` (when known). */
export function describeNodes(client: Redis | Cluster, err?: unknown, key?: string): string {
  if (!client.isCluster) {
    const redis = client as Redis;
    const o = redis.options as { sentinels?: { host?: string; port?: number }[]; name?: string };
    if (o.sentinels?.length && redis.status !== 'ready') {
      const list = o.sentinels.map((s) => hostPort(s.host ?? '127.0.0.1', s.port ?? 26379)).join(', ');
      return `master "${o.name}" via sentinels ${list}`;
    }
    return nodeAddress(redis);
  }
  const cluster = client as Cluster;
  const message = String((err as Error | undefined)?.message ?? '');
  const redirect = REDIRECT.exec(message);
  // A batch (getMany, setMany, pipeline …) names the node of the part that failed, not every master.
  key ??= keyOfError(err);
  const slot = redirect ? Number(redirect[1]) : key === undefined ? undefined : keySlot(key);
  if (slot !== undefined) {
    const owner = cluster.slots[slot]?.[0];
    const parts = [`slot ${slot} on ${owner === undefined ? 'no known node' : nodeKeyAddress(owner)}`];
    if (redirect && redirect[2] !== owner) parts.push(`last redirected to ${nodeKeyAddress(redirect[2]!)}`);
    return parts.join(', ');
  }
  const masters = cluster.nodes('master').map(nodeAddress);
  if (masters.length > 0) return `cluster nodes ${masters.join(', ')}`;
  const seeds = (cluster as unknown as { startupNodes?: { host?: string; port?: number }[] }).startupNodes;
  return `cluster seeds ${(seeds ?? []).map((s) => hostPort(s.host, s.port)).join(', ')}`;
}
