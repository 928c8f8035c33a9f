/**
 * `cache.pipeline()`: get/set/delete queued by the caller and sent in one round trip (one per
 * node in a cluster, see ./batch.ts). Input is checked as each operation is queued.
 */

import type { Bytes } from '../../core/contracts.js';
import { type BatchOp, runBatch } from './batch.js';
import { assertKey, checkTtl, queuedValue } from './checks.js';
import type { CacheContext } from './dispatch.js';
import { withPartial } from './many.js';
import { countReply } from './stats.js';
import { steadyNow } from './steady.js';
import type { RedisPipeline } from './types.js';

/**
 * `wrote` is called at `exec()` with the keys (without prefix) the pipeline writes, before it is
 * sent: the cache's loads in flight for them must not store a value after the write.
 */
export function createPipeline(ctx: CacheContext, wrote?: (keys: readonly string[]) => void): RedisPipeline {
  const { client, prefix, defaultTtl, counters, dispatch, writes, timeout } = ctx;
  let ops: BatchOp[] = [];
  let written: string[] = [];
  const api: RedisPipeline = {
    get(key) {
      assertKey(key);
      ops.push({ kind: 'get', key: prefix + key });
      return api;
    },
    set(key, value, ttl) {
      assertKey(key);
      ops.push({
        kind: 'set',
        key: prefix + key,
        value: queuedValue(value, key),
        px: checkTtl(ttl, defaultTtl),
      });
      written.push(key);
      return api;
    },
    delete(key) {
      assertKey(key);
      ops.push({ kind: 'del', key: prefix + key });
      written.push(key);
      return api;
    },
    get length() {
      return ops.length;
    },
    async exec() {
      const queued = ops;
      const keys = written;
      ops = [];
      written = [];
      dispatch.open('pipeline');
      if (queued.length === 0) return [];
      if (keys.length > 0) wrote?.(keys);
      // Deadlines count from exec(), not from after a wait for a connection (see set).
      const at = steadyNow();
      // Filled as replies arrive: when exec() rejects (a command refused, a cluster master that
      // cannot answer) the answered commands' results go with the error as `partial`, as for
      // getMany (an unanswered command's slot stays `undefined`; a GET miss is `null`).
      const replies: unknown[] = new Array(queued.length);
      const result = (op: BatchOp, r: unknown) => {
        if (op.kind === 'get') return countReply(counters, r as Buffer | null);
        if (op.kind === 'del') return (r as number) > 0;
        return true;
      };
      try {
        await dispatch.run('pipeline', () =>
          runBatch(client, queued, writes, undefined, at, timeout, replies),
        );
      } catch (err) {
        const values: (Bytes | boolean | undefined)[] = new Array(queued.length).fill(undefined);
        const unanswered: number[] = [];
        queued.forEach((op, i) => {
          if (replies[i] === undefined) unanswered.push(i);
          else values[i] = result(op, replies[i]);
        });
        throw withPartial(err, values, unanswered);
      }
      return queued.map((op, i) => result(op, replies[i]));
    },
  };
  return api;
}
