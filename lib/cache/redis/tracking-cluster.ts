/**
 * Cluster topology of one tracker (./tracking.ts): one link per node connection the client holds,
 * kept in step with the client's node and slot events; slot owners compared with the last look.
 */
import type { Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { keySlot } from './slots.js';
import { addLink, removeLink } from './tracking-links.js';
import { lose, moved, type TrackingState } from './tracking-state.js';

const SLOTS = 16384;

/** Cluster: one link per node connection the client holds; slot owners compared with the last look. */
function syncCluster(s: TrackingState): void {
  const { cluster } = s;
  if (!cluster || s.closed) return;
  const nodes = new Map<string, Redis>();
  for (const n of cluster.nodes('all')) nodes.set(`${n.options.host}:${n.options.port}`, n);
  for (const link of [...s.links.values()]) if (nodes.get(link.key) !== link.data) removeLink(s, link);
  for (const [key, node] of nodes) if (!s.links.has(key)) addLink(s, key, node);
  const owners = currentOwners(cluster);
  const before = s.slotOwners;
  if (before && owners) ownersChanged(s, before, owners);
  if (owners) s.slotOwners = owners;
  if (!s.confirmed) void s.pass();
}

/**
 * Slots whose owner changed since the last look: keys read from the previous owner are tracked
 * there only, so a write on the new owner would not be reported for them. When every new owner is
 * a tracked link (and trust holds), only those slots' keys leave L1 (`onMoved`, O(L1 keys));
 * otherwise trust is lost as for any other gap. Called before `slotOwners` is updated.
 */
function ownersChanged(s: TrackingState, before: readonly string[], owners: readonly string[]): void {
  const changed = new Uint8Array(SLOTS);
  let count = 0;
  let tracked = s.confirmed;
  for (let i = 0; i < SLOTS; i++) {
    if (owners[i] === before[i]) continue;
    changed[i] = 1;
    count++;
    if (!s.links.get(owners[i]!)?.ok) tracked = false;
  }
  if (count === 0) return;
  const reason = `${count} slot${count === 1 ? '' : 's'} changed owner`;
  if (!tracked) {
    lose(s, reason);
    return;
  }
  const { prefix } = s;
  moved(s, (key) => changed[keySlot(prefix + key)] === 1, reason);
}

function currentOwners(cluster: Cluster | undefined): string[] | undefined {
  const slots = (cluster as unknown as { slots: (string[] | undefined)[] }).slots;
  if (!Array.isArray(slots) || slots.length < SLOTS) return undefined;
  const out: string[] = new Array(SLOTS);
  for (let s = 0; s < SLOTS; s++) {
    const owner = slots[s]?.[0];
    if (owner === undefined) return undefined;
    out[s] = owner;
  }
  return out;
}

/** Every slot's master is a link that is set up (cluster); the one link is set up (otherwise). */
export function covered(s: TrackingState): boolean {
  const { cluster, links } = s;
  if (links.size === 0) return false;
  for (const link of links.values()) if (!link.ok) return false;
  if (!cluster) return true;
  if (cluster.status !== 'ready') return false;
  const owners = currentOwners(cluster);
  if (!owners) return false;
  const seen = new Set(owners);
  for (const key of seen) if (!links.get(key)?.ok) return false;
  // `slotOwners` is left to syncCluster: setting it here would hide an owner change made while a
  // verification pass was awaiting its replies from the comparison that drops the moved keys.
  return true;
}

export function syncClusterQuietly(s: TrackingState): void {
  if (s.syncing) return;
  s.syncing = true;
  try {
    syncCluster(s);
  } finally {
    s.syncing = false;
  }
}

/** Follows the cluster's node and slot events; returns the function that stops following. */
export function watchCluster(s: TrackingState, cluster: Cluster): () => void {
  const sync = () => syncClusterQuietly(s);
  cluster.on('+node', sync);
  cluster.on('-node', sync);
  cluster.on('refresh', sync);
  cluster.on('ready', sync);
  // A cluster client closed by its owner (a tracker made over a closed client, or the L2 closed
  // before its tiered cache) has no nodes to track: whoever awaits the first confirmation is told
  // so. Before, a tiered cache's `ready` never settled. A no-op once confirmed.
  const ended = () =>
    s.firstFailed?.(new CacheError('unavailable', 'redis tracking failed (cluster): the client was closed'));
  cluster.on('end', ended);
  if (cluster.status === 'wait') cluster.connect().catch(() => {});
  if (cluster.status === 'end') ended();
  syncClusterQuietly(s);
  return () => {
    cluster.off('+node', sync);
    cluster.off('-node', sync);
    cluster.off('refresh', sync);
    cluster.off('ready', sync);
    cluster.off('end', ended);
  };
}
