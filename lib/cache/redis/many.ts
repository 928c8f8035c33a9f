/**
 * getMany / setMany / deleteMany: one round trip for many keys. Standalone and sentinel send one MGET (or one
 * pipeline of SETs, one delete script); a cluster gets one MGET (delete script) per hash slot, batched per node
 * (./batch.ts), and the replies are merged back in request order. Writes and deletes are deadline-guarded scripts
 * (./deadline.ts).
 */
import type { Bytes, CacheEntry, CacheHit, WriteOptions } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { assertEntryFields } from '../../core/validate.js';
import { type BatchOp, runBatch } from './batch.js';
import { assertKey, checkBudget, checkKeys, checkTtl, checkValue } from './checks.js';
import { inTime } from './deadline.js';
import type { CacheContext } from './dispatch.js';
import { keySlot } from './slots.js';
import { countReply } from './stats.js';
import { steadyNow } from './steady.js';
import type { RedisCache } from './types.js';

export type ManyCommands = Pick<RedisCache, 'getMany' | 'getManyWithTtl' | 'setMany' | 'deleteMany'>;

/**
 * Most keys in one MGET or one delete script of a cluster batch. iovalkey reads the keys of every
 * command of a cluster pipeline with a spread call, which overflowed the JS stack for a slot with
 * ~120,000 keys (hash-tagged keys share one slot): `getMany`/`deleteMany` then failed with
 * `backend` "Maximum call stack size exceeded". Larger groups are sent as several commands.
 */
export const MAX_KEYS_PER_COMMAND = 10_000;

/** Positions of `keys` grouped by hash slot, each group in request order and at most `max` long. */
function groupBySlot(keys: readonly string[], max = MAX_KEYS_PER_COMMAND): number[][] {
  const bySlot = new Map<number, number[]>();
  const groups: number[][] = [];
  keys.forEach((k, i) => {
    const slot = keySlot(k);
    let list = bySlot.get(slot);
    if (list === undefined || list.length >= max) {
      list = [];
      bySlot.set(slot, list);
      groups.push(list);
    }
    list.push(i);
  });
  return groups;
}

/**
 * Each key of `keys` once: the distinct keys in first-asked order and, for each position asked,
 * the index of its key among them; `undefined` when no key is repeated. A key asked n times was
 * read n times: `getMany` of 5,000 copies of one 64 KiB key made Redis send 312 MiB and held as
 * much in this process (a page reading the author of each of its posts asks for few keys many times).
 */
function distinct(keys: readonly string[]): { keys: string[]; at: number[] } | undefined {
  const index = new Map<string, number>();
  const unique: string[] = [];
  const at = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    let u = index.get(k);
    if (u === undefined) {
      u = unique.length;
      index.set(k, u);
      unique.push(k);
    }
    at[i] = u;
  }
  return unique.length === keys.length ? undefined : { keys: unique, at };
}

/**
 * What a cluster `getMany` / `getManyWithTtl` that rejected still answered: the keys whose
 * master replied (one master dead and not yet failed over fails only its slots' keys). On the
 * rejected `CacheError` as `partial` (not enumerable: values stay out of logged errors). A
 * rejected `pipeline().exec()` or `setMany` (any mode) carries one too (`setMany`: `true` for an entry stored), `values` holding the results of the
 * commands that were answered and `unanswered` the positions of those whose outcome is not known
 * (a write there may or may not have been applied).
 */
export interface RedisPartialRead<T> {
  /**
   * In the order of the keys asked: the answer for each key whose node replied (`undefined` is a
   * miss there), and `undefined` for the keys in `unanswered`.
   */
  readonly values: readonly (T | undefined)[];
  /** Positions (in the keys asked) of the keys whose node did not answer: not misses, unknown. */
  readonly unanswered: readonly number[];
}

export function withPartial<T>(err: unknown, values: (T | undefined)[], unanswered: number[]): unknown {
  if (err instanceof CacheError && unanswered.length < values.length)
    Object.defineProperty(err, 'partial', {
      value: { values, unanswered } satisfies RedisPartialRead<T>,
      enumerable: false,
    });
  return err;
}

export function createManyCommands(ctx: CacheContext): ManyCommands {
  const { client, prefix, defaultTtl, counters, dispatch, writes, timeout } = ctx;
  const countAll = (values: (Buffer | null)[]) => values.map((v) => countReply(counters, v));
  const failGetMany = dispatch.fail('getMany');

  async function getManyCluster(full: readonly string[]): Promise<(Bytes | undefined)[]> {
    const once = distinct(full);
    const asked = once?.keys ?? full;
    const groups = groupBySlot(asked);
    const ops: BatchOp[] = groups.map((idx) => ({ kind: 'mget', keys: idx.map((i) => asked[i]!) }));
    const at = steadyNow();
    const replies: unknown[] = new Array(ops.length);
    const out: (Bytes | undefined)[] = new Array(full.length).fill(undefined);
    const unanswered: number[] = [];
    const merge = () => {
      // Each distinct key's reply (`undefined`: its node did not answer), then every position
      // asked, counted once per time its key was asked for.
      const got: (Buffer | null | undefined)[] = new Array(asked.length);
      groups.forEach((idx, g) => {
        const values = replies[g] as (Buffer | null)[] | undefined;
        if (values === undefined) return;
        idx.forEach((i, j) => {
          got[i] = values[j];
        });
      });
      for (let i = 0; i < full.length; i++) {
        const value = got[once ? once.at[i]! : i];
        if (value === undefined) unanswered.push(i);
        else out[i] = countReply(counters, value);
      }
    };
    try {
      await dispatch.run('getMany', () => runBatch(client, ops, undefined, undefined, at, timeout, replies));
    } catch (err) {
      merge();
      throw withPartial(err, out, unanswered);
    }
    merge();
    return out;
  }

  return {
    async getMany(keys) {
      checkKeys(keys, 'getMany expects an array of keys');
      dispatch.open('getMany');
      if (keys.length === 0) return [];
      const full = keys.map((k) => prefix + k);
      if (!client.isCluster) {
        const once = distinct(full);
        if (once === undefined)
          return dispatch.exec('getMany', () => client.mgetBuffer(full), countAll, failGetMany);
        return dispatch.exec(
          'getMany',
          () => client.mgetBuffer(once.keys),
          (values) => countAll(once.at.map((u) => values[u]!)),
          failGetMany,
        );
      }
      return getManyCluster(full);
    },

    async getManyWithTtl(keys) {
      checkKeys(keys, 'getManyWithTtl expects an array of keys');
      dispatch.open('getManyWithTtl');
      if (keys.length === 0) return [];
      // GET then PTTL of each key, in one pipeline (one per node in a cluster: a key's two
      // commands share its slot). Not atomic: a key that expired between the two reads has 0 left.
      // A key of another Redis type (WRONGTYPE to its GET) is a miss, as MGET answers it: that one
      // GET used to reject the whole batch (`invalid_value`, counted in `errors`), so a tiered
      // cache under tracking read every key of the batch as a miss.
      // A key asked several times is read once (see `distinct`), counted once per time asked.
      const once = distinct(keys);
      const ops: BatchOp[] = [];
      for (const k of once?.keys ?? keys)
        ops.push({ kind: 'get', key: prefix + k, wrongTypeIsMiss: true }, { kind: 'pttl', key: prefix + k });
      const at = steadyNow();
      const replies: unknown[] = new Array(ops.length);
      const out: (CacheHit | undefined)[] = new Array(keys.length).fill(undefined);
      const unanswered: number[] = [];
      const merge = () => {
        for (let i = 0; i < keys.length; i++) {
          const u = once ? once.at[i]! : i;
          // A key's GET and PTTL share its slot, so one node answered both or neither.
          if (replies[2 * u] === undefined || replies[2 * u + 1] === undefined) {
            unanswered.push(i);
            continue;
          }
          const value = countReply(counters, replies[2 * u] as Buffer | null);
          const pttl = replies[2 * u + 1] as number;
          out[i] =
            value === undefined ? undefined : { value, ttl: pttl === -1 ? undefined : Math.max(0, pttl) };
        }
      };
      try {
        await dispatch.run('getManyWithTtl', () =>
          runBatch(client, ops, undefined, undefined, at, timeout, replies),
        );
      } catch (err) {
        // Only a cluster answers in parts (one pipeline per node).
        if (client.isCluster) {
          merge();
          throw withPartial(err, out, unanswered);
        }
        throw err;
      }
      merge();
      return out;
    },

    async setMany(entries: readonly CacheEntry[], options?: WriteOptions) {
      if (!Array.isArray(entries))
        throw new CacheError('invalid_value', 'setMany expects an array of entries');
      const ops: BatchOp[] = entries.map((e) => {
        assertKey(e?.key);
        const op: BatchOp = {
          kind: 'set',
          key: prefix + e.key,
          value: checkValue(e.value, e.key),
          px: checkTtl(e.ttl, defaultTtl),
        };
        assertEntryFields(e);
        return op;
      });
      // Checked before the empty case returns, as every cache does (an empty batch with a bad
      // budget resolved here and was refused by the others).
      const budget = checkBudget(options);
      dispatch.open('setMany');
      if (ops.length === 0) return;
      // Deadlines count from this call, not from after a wait for a connection (see set).
      const at = steadyNow();
      // As pipeline(): a rejection carries which entries were stored (`values[i]` true) and which
      // are unknown (`unanswered`), once every node's part has settled.
      const replies: unknown[] = new Array(ops.length);
      try {
        await dispatch.bounded(
          dispatch.run('setMany', () => runBatch(client, ops, writes, budget, at, timeout, replies)),
          'setMany',
          budget,
          at,
        );
      } catch (err) {
        const values: (true | undefined)[] = new Array(ops.length).fill(undefined);
        const unanswered: number[] = [];
        ops.forEach((_, i) => {
          if (replies[i] === undefined) unanswered.push(i);
          else values[i] = true;
        });
        throw withPartial(err, values, unanswered);
      }
    },

    async deleteMany(keys, options?: Pick<WriteOptions, 'timeout'>) {
      checkKeys(keys, 'deleteMany expects an array of keys');
      const budget = checkBudget(options);
      dispatch.open('deleteMany');
      if (keys.length === 0) return 0;
      const full = [...new Set(keys)].map((k) => prefix + k);
      // Deadline-guarded like every delete (./deadline.ts), counted from this call (see set).
      const at = steadyNow();
      if (!client.isCluster)
        return dispatch.bounded(
          dispatch.run('deleteMany', () => writes.delete(full, budget, at).then(inTime)),
          'deleteMany',
          budget,
          at,
        );
      // One guarded UNLINK per hash slot (a multi-key command must not span slots), one pipeline per node.
      const ops: BatchOp[] = groupBySlot(full).map((idx) => ({
        kind: 'unlink',
        keys: idx.map((i) => full[i]!),
      }));
      const replies = await dispatch.bounded(
        dispatch.run('deleteMany', () => runBatch(client, ops, writes, budget, at, timeout)),
        'deleteMany',
        budget,
        at,
      );
      return replies.reduce<number>((sum, n) => sum + Number(n), 0);
    },
  };
}
