/**
 * `clear()`: SCAN + UNLINK of `prefix*` on every master; never FLUSHDB (the prefix may share the
 * database with other data). In a cluster, UNLINK is batched per slot: a multi-key command must
 * not span slots. Each round's UNLINK runs in the deadline-guarded delete script (./deadline.ts),
 * its deadline counted from the round: a round that timed out (the caller was told `clear` failed)
 * never lands later over keys written since. EVAL, not EVALSHA: the script is defined on the
 * client, not on each cluster node, and its text is small beside a round of up to 1000 keys.
 */
import type { ChainableCommander, Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { DELETE_SCRIPT, type GuardedWrites, TOO_LATE, tooLate } from './deadline.js';
import { toCacheError } from './errors.js';
import { refreshTopology } from './health.js';
import { nodeKeyAddress } from './nodes.js';
import { keySlot } from './slots.js';
import { steadyNow } from './steady.js';
import { secretsOf } from './transaction/failure.js';

/** Keys scanned per SCAN call (a hint to the server). */
const SCAN_COUNT = 1000;

/** `*`, `?`, `[`, `]` and `\` are glob syntax in SCAN MATCH; a prefix must match literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * `budget` (ms, optional): the caller's budget for the whole clear, counted from `at` (when it was
 * called). Then every round's deadline is that one, so no round lands once the caller may have
 * been told the clear failed — a tiered cache reports `timeout` after its `l2Timeout`, long before
 * the command timeout; with a deadline per round, the rounds after Redis resumed (paused, busy)
 * still ran and removed keys written after that report. Without it, each round gets its own.
 */
export async function clearPrefix(
  client: Redis | Cluster,
  prefix: string,
  writes: GuardedWrites,
  budget?: number,
  at?: number,
): Promise<void> {
  const pattern = `${globEscape(prefix)}*`;
  if (client.isCluster) {
    // The slot map is re-read every 5 s: a master added since (a slot handed to a new node) was
    // in no owner list, so its keys were never scanned and clear() resolved while they stayed and
    // were served. Re-read it first, within the call's budget (or the command timeout).
    const cluster = client as Cluster;
    const limit = budget ?? cluster.options.redisOptions?.commandTimeout ?? 1000;
    await refreshTopology(cluster, Math.max(0, limit - (steadyNow() - (at ?? steadyNow()))));
  }
  const nodes = client.isCluster ? slotOwners(client as Cluster) : [{ node: client as Redis, where: '' }];
  await Promise.all(
    nodes.map(async ({ node, where }) => {
      let cursor = '0';
      do {
        const [next, keys] = await node
          .scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
          .catch((err: unknown) => {
            // Name the owner that failed (a killed master the fresh slot map still lists): the
            // error otherwise named the other, live masters.
            throw where ? toCacheError('clear', err, secretsOf(client), where) : err;
          });
        cursor = String(next);
        if (keys.length === 0) continue;
        const deadline = budget === undefined ? writes.deadline() : writes.deadline(budget, at);
        if (client.isCluster) await unlinkPerSlot(client as Cluster, node, keys, deadline);
        else inTime(await node.call('EVAL', DELETE_SCRIPT, keys.length, ...keys, deadline));
      } while (cursor !== '0');
    }),
  );
}

/**
 * The node of every slot's owner in the client's slot map. Not `nodes('master')`: a master whose
 * connection ended (killed, not yet failed over) is in no node list although its slots still
 * point to it, so clear() left its keys — which its replica then served after the promotion — and
 * resolved. Such a slot makes clear() fail (`unavailable`), naming the owner.
 */
function slotOwners(cluster: Cluster): { node: Redis; where: string }[] {
  const byKey = new Map(cluster.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  const owners = new Map<string, { node: Redis; where: string }>();
  for (let slot = 0; slot < 16384; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner !== undefined && owners.has(owner)) continue;
    const node = owner === undefined ? undefined : byKey.get(owner);
    if (owner === undefined || node === undefined) {
      throw new CacheError(
        'unavailable',
        `redis clear failed: slot ${slot} has no connected master (${owner === undefined ? 'no known owner' : nodeKeyAddress(owner)}), so its keys cannot be removed`,
      );
    }
    owners.set(owner, { node, where: `slot ${slot} on ${nodeKeyAddress(owner)}` });
  }
  return [...owners.values()];
}

/** A round's reply, or the refusal of a round that reached Redis after its deadline. */
function inTime(reply: unknown): void {
  if (reply === TOO_LATE) throw tooLate();
}

/**
 * UNLINKs `keys` of one cluster master, one guarded command per slot, in one pipeline. A slot that
 * answers MOVED/ASK (the node handed it over: a failover the slot map does not know yet, or a key
 * migrated mid-scan) is deleted through the cluster client, which follows the redirection — before,
 * it was skipped, and after a CLUSTER FAILOVER the keys of the demoted master's slots stayed.
 */
async function unlinkPerSlot(
  cluster: Cluster,
  node: Redis,
  keys: readonly Buffer[],
  deadline: string,
): Promise<void> {
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
  const lists = [...bySlot.values()];
  const redirected: Buffer[][] = [];
  replies.forEach(([err, reply], i) => {
    if (err && /^(MOVED|ASK)\b/.test(err.message)) redirected.push(lists[i]!);
    else if (err) throw err;
    else inTime(reply);
  });
  if (redirected.length === 0) return;
  cluster.refreshSlotsCache();
  const resent = await Promise.all(
    redirected.map((list) => cluster.call('EVAL', DELETE_SCRIPT, list.length, ...list, deadline)),
  );
  for (const reply of resent) inTime(reply);
}
