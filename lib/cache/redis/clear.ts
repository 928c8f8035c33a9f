/**
 * `clear()`: SCAN + UNLINK of `prefix*` on every master; never FLUSHDB (the prefix may share the
 * database with other data). In a cluster, UNLINK is batched per slot: a multi-key command must
 * not span slots.
 */
import type { Cluster, Redis } from 'iovalkey';
import { keySlot } from './slots.js';

/** Keys scanned per SCAN call (a hint to the server). */
const SCAN_COUNT = 1000;

/** `*`, `?`, `[`, `]` and `\` are glob syntax in SCAN MATCH; a prefix must match literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export async function clearPrefix(client: Redis | Cluster, prefix: string): Promise<void> {
  const pattern = `${globEscape(prefix)}*`;
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        cursor = String(next);
        if (keys.length === 0) continue;
        if (client.isCluster) await unlinkPerSlot(node, keys);
        else await node.unlink(...keys);
      } while (cursor !== '0');
    }),
  );
}

/** UNLINKs `keys` of one cluster master, one command per slot, in one pipeline. */
async function unlinkPerSlot(node: Redis, keys: readonly Buffer[]): Promise<void> {
  const bySlot = new Map<number, Buffer[]>();
  for (const k of keys) {
    const slot = keySlot(k);
    const list = bySlot.get(slot);
    if (list) list.push(k);
    else bySlot.set(slot, [k]);
  }
  const p = node.pipeline();
  for (const list of bySlot.values()) p.unlink(...list);
  const replies = (await p.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  // A key that moved away mid-scan belongs to another master, which scans it itself.
  if (failed?.[0] && !/^(MOVED|ASK)\b/.test(failed[0].message)) throw failed[0];
}
