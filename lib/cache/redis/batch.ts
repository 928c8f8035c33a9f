/**
 * Sends a batch of commands in one round trip: one pipeline on a standalone/sentinel client, one
 * pipeline per node on a cluster (iovalkey rejects pipelines whose keys live on different nodes,
 * and the server rejects multi-key commands across slots, so callers pass per-slot MGETs).
 */
import type { ChainableCommander, Cluster, Redis } from 'iovalkey';
import { type GuardedWrites, inTimeInBatch } from './deadline.js';
import { markKey } from './nodes.js';
import { keySlot } from './slots.js';
import { steadyNow } from './steady.js';

export type BatchOp =
  /**
   * `wrongTypeIsMiss`: a `WRONGTYPE` reply (the key holds a hash, list… another program wrote) is
   * a miss (`null`) for this key only, as `MGET` answers it, instead of failing the whole batch.
   */
  | { readonly kind: 'get'; readonly key: string; readonly wrongTypeIsMiss?: boolean | undefined }
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
 * Commands per pipeline of a batch. iovalkey builds and writes a pipeline synchronously (a guarded
 * SET costs most): a `setMany` of 300,000 entries blocked the event loop for ~15 s at once, so no
 * timer could fire, every entry reached Redis after its deadline and was refused, the caller
 * waited ~24 s at a 5 s command timeout, and the connection stayed clogged behind the batch (the
 * next command timed out too). Sent in chunks, the loop breathes between them, and the batch stops
 * once its time is up.
 */
export const BATCH_CHUNK = 1000;

/**
 * Replies in the order of `ops`; rejects with the first command error. With `writes`, every set
 * and delete is deadline-guarded (./deadline.ts) and one that arrived too late rejects as a timeout.
 * `limit` (ms from `at`, e.g. the command timeout): a batch of more than `BATCH_CHUNK` commands
 * (per node) is sent in chunks, and none is sent once `limit` (or `budget`) has passed: the call
 * rejects with a timeout at once (the chunks not sent were not applied).
 */
export async function runBatch(
  client: Redis | Cluster,
  ops: readonly BatchOp[],
  writes?: GuardedWrites,
  budget?: number,
  at = steadyNow(),
  limit?: number,
  into?: unknown[],
): Promise<unknown[]> {
  const out: unknown[] = into ?? new Array(ops.length);
  const w = writes && { writes, budget, at };
  const end = at + Math.min(limit ?? Number.POSITIVE_INFINITY, budget ?? Number.POSITIVE_INFINITY);
  // The chunks are pipelined (none waits for the replies of the one before), with a turn of the
  // event loop between them; none is sent once the time is up.
  // A cluster part that writes goes to its master, also when its first command is a read (see
  // `pinnedToMaster`); reads alone may go to a replica with `cluster.readOnly`.
  // (Decided once per part: a large part of reads alone is scanned whole; never when every read
  // goes to a master anyway.)
  const replicaReads = client.isCluster && (client as Cluster).options.scaleReads !== 'master';
  const pipelineFor = (order: readonly number[]) => {
    const writes = replicaReads && order.some((i) => !isRead(ops[i]!));
    return writes ? () => pinnedToMaster(client as Cluster, keyOf(ops[order[0]!]!)) : () => client.pipeline();
  };
  const inChunks = async (order: readonly number[], moved?: number[]) => {
    const pipeline = pipelineFor(order);
    if (order.length <= BATCH_CHUNK) return execInto(pipeline(), ops, order, out, w, moved);
    // The first failure of a chunk (a refusal, OOM, a lost connection) ends the batch: no chunk is
    // sent after it, and the caller gets it once the chunks sent have settled.
    let failure: { err: unknown } | undefined;
    const sent: Promise<void>[] = [];
    for (let from = 0; from < order.length && failure === undefined; from += BATCH_CHUNK) {
      if (from > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (failure !== undefined) break;
        if (steadyNow() >= end) {
          throw new Error(
            `Command timed out: ${end - at} ms passed after ${from} of ${order.length} commands of the batch were sent; the rest were not sent`,
          );
        }
      }
      const chunk = order.slice(from, from + BATCH_CHUNK);
      sent.push(
        execInto(pipeline(), ops, chunk, out, w, moved).catch((err: unknown) => {
          failure ??= { err };
        }),
      );
    }
    await Promise.all(sent);
    if (failure !== undefined) throw failure.err;
  };
  if (!client.isCluster) {
    await inChunks(ops.map((_, i) => i));
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
  if (into === undefined) {
    await Promise.all([...groups.values()].map((idx) => inChunks(idx, moved)));
    if (moved.length > 0) await resendMoved(client as Cluster, ops, moved, out, w);
    return out;
  }
  // Collecting partial answers (reads, and pipeline() which says which commands were answered):
  // every node's part settles (a dead master's part fails,
  // the live masters' parts fill `into`), redirections are followed, then the first failure is
  // thrown; the caller reads what was answered from `into` (an unanswered op stays `undefined`).
  const settled = await Promise.allSettled([...groups.values()].map((idx) => inChunks(idx, moved)));
  if (moved.length > 0)
    settled.push(...(await Promise.allSettled([resendMoved(client as Cluster, ops, moved, out, w)])));
  const failure = settled.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
  return out;
}

/**
 * A cluster pipeline sent to the master of `key`'s slot. iovalkey sends a whole pipeline to the
 * node its first command picks: with `cluster.readOnly` a first `get` picked a replica, and the
 * writes queued after it were refused there — `pipeline().get(k).set(k, v).exec()` failed with
 * `unavailable` "READONLY You can't write against a read only replica" (found from outside on
 * the 6-node cluster). iovalkey's own `preferKey` (a private field it sets to follow a MOVED)
 * names the node; where iovalkey has no such field (another version) or the master is not in its
 * pool yet, iovalkey picks the node as before.
 */
function pinnedToMaster(cluster: Cluster, key: string): ChainableCommander {
  const p = cluster.pipeline();
  const master = cluster.slots[keySlot(key)]?.[0];
  if (master !== undefined) (p as unknown as { preferKey?: string }).preferKey = master;
  return p;
}

/**
 * Resends the ops of a node's pipeline that got MOVED/ASK (they were not applied), one pipeline per
 * slot. iovalkey follows a redirection of a pipeline only when every reply is the same redirection,
 * so a pipeline spanning several slots of a master that just handed them over (CLUSTER FAILOVER,
 * or a promotion the slot map does not know yet) failed whole; per slot the replies agree and it
 * follows them (up to `cluster.maxRedirects`). Reads and multi-key ops go as single-key commands
 * (`oneByOne`). The slot map is refreshed for later batches.
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
  // Within a slot the resends keep the queue order: a run of writes goes as one pipeline, a run of
  // single commands concurrently, and each run waits for the one before. Before, all went at once,
  // so in a `pipeline()` mixing a redirected slot's keys with keys its node still held (a slot
  // mid-migration), `set(k)` then `get(k)` read the value from before the set (the get, sent
  // alone, reached the import target first; `cluster-migration.test.ts`).
  await Promise.all(
    [...bySlot.values()].map(async (idx) => {
      idx.sort((a, b) => a - b);
      for (let from = 0; from < idx.length; ) {
        const alone = single(ops[idx[from]!]!);
        let to = from + 1;
        while (to < idx.length && single(ops[idx[to]!]!) === alone) to++;
        const run = idx.slice(from, to);
        if (alone)
          await Promise.all(
            run.map(async (i) => {
              out[i] = await oneByOne(cluster, ops[i]!, w);
            }),
          );
        else await execInto(cluster.pipeline(), ops, run, out, w);
        from = to;
      }
    }),
  );
}

/**
 * Resent as single commands: reads (a per-slot pipeline of reads split again by a migration — a
 * slot that moved on, or migrates by the time of the resend — would be re-sent whole by iovalkey
 * to the ASK target, the same wrong miss as in `execInto`) and multi-key ops.
 */
const single = (op: BatchOp) => isRead(op) || ('keys' in op && op.keys.length > 1);

/**
 * A redirected read, or multi-key op (one slot's MGET or guarded UNLINK), sent as single-key
 * commands, each following its own redirection (iovalkey's single-command path sends ASKING for
 * that command only). While a slot migrates, its keys are split between the source and the target: the multi-key
 * command gets `TRYAGAIN` from both until the slot is handed over (seconds to minutes for a large
 * slot), so `getMany` and `deleteMany` failed with `unavailable` for as long. Single-key commands
 * follow `ASK` one by one. A batch is not atomic across slots anyway (use a transaction).
 */
async function oneByOne(
  cluster: Cluster,
  op: BatchOp,
  w: { writes: GuardedWrites; budget: number | undefined; at: number } | undefined,
): Promise<unknown> {
  const each = (key: string, send: () => Promise<unknown>) =>
    send().catch((err: unknown) => {
      throw markKey(err, key);
    });
  if (op.kind === 'get')
    return each(op.key, () =>
      cluster.getBuffer(op.key).catch((err: unknown) => {
        if (op.wrongTypeIsMiss && /^WRONGTYPE\b/.test(String((err as Error)?.message))) return null;
        throw err;
      }),
    );
  if (op.kind === 'pttl') return each(op.key, () => cluster.pttl(op.key));
  if (op.kind === 'mget') return Promise.all(op.keys.map((k) => each(k, () => cluster.getBuffer(k))));
  if (op.kind !== 'unlink') throw new Error(`${op.kind} is not resent one by one`);
  const counts = await Promise.all(
    op.keys.map((k) =>
      each(k, () => (w ? w.writes.delete([k], w.budget, w.at).then(inTimeInBatch) : cluster.unlink(k))),
    ),
  );
  return counts.reduce<number>((sum, n) => sum + Number(n), 0);
}

const keyOf = (op: BatchOp) => ('keys' in op ? op.keys[0]! : op.key);

const isRead = (op: BatchOp) => op.kind === 'get' || op.kind === 'pttl' || op.kind === 'mget';

/**
 * Replies that mean "not answered here, ask again" on a cluster: the op was not applied. MOVED and
 * ASK go to the node named; TRYAGAIN is a multi-key op over keys a live migration has split
 * between two nodes (resent key by key, `resendMoved`); CLUSTERDOWN (a cluster settling after a
 * failover) is what iovalkey itself retries for a pipeline of reads, and the resend pass leaves it
 * to it (see `execInto`).
 */
const REDIRECT = /^(MOVED|ASK|TRYAGAIN) /;
const RETRY_READ = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

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
  // A cluster pipeline of reads only (first pass) ends with a PING. When every error of a pipeline
  // is the same redirection and every other command is a read, iovalkey re-sends the WHOLE pipeline
  // to the node named — the reads that were answered too. After `ASK` (a slot mid-migration) that
  // node is the import target, which answers a key not migrated yet (still on the source) as a
  // miss: `getManyWithTtl` (every tiered read under tracking), `pipeline().get()` and a tiered
  // `getMany` gave `undefined` for a key that held a value (found by a live slot migration under
  // load). PING is not a read for iovalkey, so once the node answered it the pipeline is left as
  // answered, and the redirected ops alone are re-sent (`moved`, then `resendMoved`).
  const readsOnly = moved !== undefined && order.every((i) => isRead(ops[i]!));
  if (readsOnly) p.ping();
  // A failure names the node of this part's first key (./nodes.ts; only a cluster uses it).
  const first = idx && ops[order[0]!];
  const replies =
    (await p.exec().catch((err: unknown) => {
      throw first ? markKey(err, keyOf(first)) : err;
    })) ?? [];
  // The PING's own reply is dropped (a PING that failed with the rest — a connection lost — was
  // retried by iovalkey as before; the reads' errors stand).
  if (readsOnly) replies.pop();
  if (replies.length !== order.length) throw new Error('pipeline returned an unexpected number of replies');
  const again = readsOnly ? RETRY_READ : REDIRECT;
  const redirected: number[] = [];
  // Every reply is read, also after a failed one: the commands after it were answered too, and a
  // caller collecting partial answers (`into`) learns which.
  let failure: { err: unknown } | undefined;
  replies.forEach(([err, value], j) => {
    const i = order[j]!;
    const op = ops[i]!;
    if (err && moved && again.test(err.message)) redirected.push(i);
    else if (err && op.kind === 'get' && op.wrongTypeIsMiss && /^WRONGTYPE\b/.test(err.message))
      out[i] = null;
    else if (err) failure ??= { err: idx ? markKey(err, keyOf(op)) : err };
    else {
      try {
        out[i] = w && guarded(op) ? inTimeInBatch(value as number) : value;
      } catch (late) {
        failure ??= { err: idx ? markKey(late, keyOf(op)) : late };
      }
    }
  });
  if (failure) throw failure.err;
  moved?.push(...redirected);
}
