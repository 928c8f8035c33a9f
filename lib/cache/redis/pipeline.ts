/**
 * `cache.pipeline()`: get/set/delete queued by the caller and sent in one round trip (one per
 * node in a cluster, see ./batch.ts). Input is checked as each operation is queued.
 */
import { type BatchOp, runBatch } from './batch.js';
import { assertKey, checkTtl, checkValue } from './checks.js';
import type { CacheContext } from './dispatch.js';
import { countReply } from './stats.js';
import type { RedisPipeline } from './types.js';

export function createPipeline(ctx: CacheContext): RedisPipeline {
  const { client, prefix, defaultTtl, counters, dispatch, writes } = ctx;
  let ops: BatchOp[] = [];
  const api: RedisPipeline = {
    get(key) {
      assertKey(key);
      ops.push({ kind: 'get', key: prefix + key });
      return api;
    },
    set(key, value, ttl) {
      assertKey(key);
      ops.push({ kind: 'set', key: prefix + key, value: checkValue(value), px: checkTtl(ttl, defaultTtl) });
      return api;
    },
    delete(key) {
      assertKey(key);
      ops.push({ kind: 'del', key: prefix + key });
      return api;
    },
    get length() {
      return ops.length;
    },
    async exec() {
      const queued = ops;
      ops = [];
      if (queued.length === 0) return [];
      // Deadlines count from exec(), not from after a wait for a connection (see set).
      const at = Date.now();
      const replies = await dispatch.run('pipeline', () => runBatch(client, queued, writes, undefined, at));
      return queued.map((op, i) => {
        const r = replies[i];
        if (op.kind === 'get') return countReply(counters, r as Buffer | null);
        if (op.kind === 'del') return (r as number) > 0;
        return true;
      });
    },
  };
  return api;
}
