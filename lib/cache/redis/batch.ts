/**
 * Sends a batch of commands in one round trip: one pipeline on a standalone/sentinel client, one
 * pipeline per node on a cluster (iovalkey rejects pipelines whose keys live on different nodes,
 * and the server rejects multi-key commands across slots, so callers pass per-slot MGETs).
 */
import type { ChainableCommander, Cluster, Redis } from 'iovalkey';
import { type GuardedWrites, inTimeInBatch } from './deadline.js';
import { markKey } from './nodes.js';
import { keySlot } from './slots.js';

export type BatchOp =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'set'; readonly key: string; readonly value: Buffer; readonly px: number | undefined }
  | { readonly kind: 'del'; readonly key: string }
  /** PTTL: ms left, -1 without expiry, -2 when the key is absent. */
  | { readonly kind: 'pttl'; readonly key: string }
  /** Every key of one `mget` must hash to the same slot in cluster mode. */
  | { readonly kind: 'mget'; readonly keys: readonly string[] }
  /** Likewise for one multi-key `unlink` (the guarded delete script with `writes`). */
  | { readonly kind: 'unlink'; readonly keys: readonly string[] };

function add(
  p: ChainableCommander,
  op: BatchOp,
  w: { writes: GuardedWrites; budget: number | undefined; at: number } | undefined,
): void {
  switch (op.kind) {
    case 'get':
      p.getBuffer(op.key);
      break;
    case 'set':
      if (w) w.writes.queue(p, op.key, op.value, op.px, w.budget, w.at);
      else if (op.px === undefined) p.set(op.key, op.value);
      else p.set(op.key, op.value, 'PX', op.px);
      break;
    case 'del':
      if (w) w.writes.queueDelete(p, [op.key], w.budget, w.at);
      else p.unlink(op.key);
      break;
    case 'pttl':
      p.pttl(op.key);
      break;
    case 'mget':
      p.mgetBuffer(op.keys as string[]); // one array: iovalkey flattens it (no spread of many keys)
      break;
    case 'unlink':
      if (w) w.writes.queueDelete(p, op.keys, w.budget, w.at);
      else p.unlink(op.keys as string[]);
      break;
  }
}

/**
 * Replies in the order of `ops`; rejects with the first command error. With `writes`, every set
 * and delete is deadline-guarded (./deadline.ts) and one that arrived too late rejects as a timeout.
 */
export async function runBatch(
  client: Redis | Cluster,
  ops: readonly BatchOp[],
  writes?: GuardedWrites,
  budget?: number,
  at = Date.now(),
): Promise<unknown[]> {
  const out: unknown[] = new Array(ops.length);
  const w = writes && { writes, budget, at };
  if (!client.isCluster) {
    await execInto(client.pipeline(), ops, undefined, out, w);
    return out;
  }
  const slots = (client as Cluster).slots;
  const groups = new Map<string, number[]>();
  ops.forEach((op, i) => {
    const slot = keySlot('keys' in op ? op.keys[0]! : op.key);
    const id = slots[slot]?.join(';') ?? `#${slot}`;
    const list = groups.get(id);
    if (list) list.push(i);
    else groups.set(id, [i]);
  });
  const moved: number[] = [];
  await Promise.all([...groups.values()].map((idx) => execInto(client.pipeline(), ops, idx, out, w, moved)));
  if (moved.length > 0) await resendMoved(client as Cluster, ops, moved, out, w);
  return out;
}

/**
 * Resends the ops of a node's pipeline that got MOVED/ASK (they were not applied), one pipeline per
 * slot. iovalkey follows a redirection of a pipeline only when every reply is the same redirection,
 * so a pipeline spanning several slots of a master that just handed them over (CLUSTER FAILOVER,
 * or a promotion the slot map does not know yet) failed whole; per slot the replies agree and it
 * follows them (up to `cluster.maxRedirects`). The slot map is refreshed for later batches.
 */
async function resendMoved(
  cluster: Cluster,
  ops: readonly BatchOp[],
  moved: readonly number[],
  out: unknown[],
  w: { writes: GuardedWrites; budget: number | undefined; at: number } | undefined,
): Promise<void> {
  cluster.refreshSlotsCache();
  const bySlot = new Map<number, number[]>();
  for (const i of moved) {
    const op = ops[i]!;
    const slot = keySlot('keys' in op ? op.keys[0]! : op.key);
    const list = bySlot.get(slot);
    if (list) list.push(i);
    else bySlot.set(slot, [i]);
  }
  await Promise.all([...bySlot.values()].map((idx) => execInto(cluster.pipeline(), ops, idx, out, w)));
}

const keyOf = (op: BatchOp) => ('keys' in op ? op.keys[0]! : op.key);

/** Ops sent as deadline-guarded scripts when the batch has `writes` (their replies may be TOO_LATE). */
const guarded = (op: BatchOp) => op.kind === 'set' || op.kind === 'del' || op.kind === 'unlink';

async function execInto(
  p: ChainableCommander,
  ops: readonly BatchOp[],
  idx: readonly number[] | undefined,
  out: unknown[],
  w: { writes: GuardedWrites; budget: number | undefined; at: number } | undefined,
  moved?: number[],
): Promise<void> {
  const order = idx ?? ops.map((_, i) => i);
  for (const i of order) add(p, ops[i]!, w);
  // In a cluster (`idx` given), a failure names the node of this part's first key (./nodes.ts).
  const first = idx && ops[order[0]!];
  const replies =
    (await p.exec().catch((err: unknown) => {
      throw first ? markKey(err, keyOf(first)) : err;
    })) ?? [];
  if (replies.length !== order.length) throw new Error('pipeline returned an unexpected number of replies');
  const redirected: number[] = [];
  replies.forEach(([err, value], j) => {
    if (err && moved && /^(MOVED|ASK) /.test(err.message)) redirected.push(order[j]!);
    else if (err) throw idx ? markKey(err, keyOf(ops[order[j]!]!)) : err;
    else out[order[j]!] = w && guarded(ops[order[j]!]!) ? inTimeInBatch(value as number) : value;
  });
  moved?.push(...redirected);
}
