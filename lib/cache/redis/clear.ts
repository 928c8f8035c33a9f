/**
 * `clear()`: SCAN + UNLINK of `prefix*` on every master; never FLUSHDB (the prefix may share the
 * database with other data). In a cluster, UNLINK is batched per slot: a multi-key command must
 * not span slots. Each round's UNLINK runs in the deadline-guarded delete script (./deadline.ts),
 * its deadline counted from the round: a round that timed out (the caller was told `clear` failed)
 * never lands later over keys written since. EVAL, not EVALSHA: the script is defined on the
 * client, not on each cluster node, and its text is small beside a round of up to 1000 keys.
 */
import type { ChainableCommander, Cluster, Redis } from 'iovalkey';
import { DELETE_SCRIPT, type GuardedWrites, TOO_LATE, tooLate } from './deadline.js';
import { keySlot } from './slots.js';

/** Keys scanned per SCAN call (a hint to the server). */
const SCAN_COUNT = 1000;

/** `*`, `?`, `[`, `]` and `\` are glob syntax in SCAN MATCH; a prefix must match literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export async function clearPrefix(
  client: Redis | Cluster,
  prefix: string,
  writes: GuardedWrites,
): Promise<void> {
  const pattern = `${globEscape(prefix)}*`;
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        cursor = String(next);
        if (keys.length === 0) continue;
        const deadline = writes.deadline();
        if (client.isCluster) await unlinkPerSlot(node, keys, deadline);
        else inTime(await node.call('EVAL', DELETE_SCRIPT, keys.length, ...keys, deadline));
      } while (cursor !== '0');
    }),
  );
}

/** A round's reply, or the refusal of a round that reached Redis after its deadline. */
function inTime(reply: unknown): void {
  if (reply === TOO_LATE) throw tooLate();
}

/** UNLINKs `keys` of one cluster master, one guarded command per slot, in one pipeline. */
async function unlinkPerSlot(node: Redis, keys: readonly Buffer[], deadline: string): Promise<void> {
  const bySlot = new Map<number, Buffer[]>();
  for (const k of keys) {
    const slot = keySlot(k);
    const list = bySlot.get(slot);
    if (list) list.push(k);
    else bySlot.set(slot, [k]);
  }
  const p: ChainableCommander = node.pipeline();
  for (const list of bySlot.values()) p.call('EVAL', DELETE_SCRIPT, list.length, ...list, deadline);
  const replies = (await p.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  // A key that moved away mid-scan belongs to another master, which scans it itself.
  if (failed?.[0] && !/^(MOVED|ASK)\b/.test(failed[0].message)) throw failed[0];
  for (const [, reply] of replies) inTime(reply);
}
