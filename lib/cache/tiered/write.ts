/**
 * The write path: L2 first, then L1, then an invalidation (keys only) for the other instances.
 * When the L2 write fails, L2 may or may not hold the new value, so the keys are dropped from
 * every L1 (here and, through the bus, elsewhere) and the next read asks L2 again.
 */
import type { Bytes, CacheEntry } from '../../core/contracts.js';
import { CacheError, typeName } from '../../core/errors.js';
import { assertBytes, assertKey, assertKeys, assertTtl } from '../../core/validate.js';
import type { Context } from './context.js';
import { l2WriteError } from './l2.js';
import { ignore, levelTtl } from './local.js';

export interface WritePath {
  set(key: string, value: Bytes, ttl?: number): Promise<boolean>;
  setMany(entries: readonly CacheEntry[]): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteMany(keys: readonly string[]): Promise<number>;
  clear(): Promise<void>;
}

export function createWritePath(ctx: Context): WritePath {
  const { o, fence, guarded, local, publish, assertOpen } = ctx;
  const { l1, l2, now } = o;

  /** Drops `keys` (or everything) from this L1, then tells the other instances to do the same. */
  async function dropEverywhere(keys: readonly string[] | 'all'): Promise<void> {
    if (keys === 'all') {
      await local.dropAll();
      await publish({ all: true });
    } else {
      await Promise.all(keys.map(local.drop));
      await publish({ keys });
    }
  }

  return {
    async set(key, value, ttl = o.ttl) {
      assertOpen();
      assertKey(key);
      assertBytes(value);
      assertTtl(ttl);
      const entry = local.wrap(value, ttl);
      let stored: boolean;
      try {
        stored = await guarded('set', () => l2.set(key, entry.raw, levelTtl(entry.env.staleUntil, now())));
      } catch (err) {
        await dropEverywhere([key]);
        throw l2WriteError(err);
      }
      local.forget(key);
      if (stored) local.fillL1(key, entry, fence.mark());
      else await l1.delete(key).catch(ignore);
      await publish({ keys: [key] });
      return stored;
    },

    async setMany(entries) {
      assertOpen();
      if (!Array.isArray(entries))
        throw new CacheError('invalid_value', `entries must be an array, received ${typeName(entries)}`);
      for (const e of entries) {
        assertKey(e?.key);
        assertBytes(e.value);
        assertTtl(e.ttl);
      }
      if (entries.length === 0) return;
      const t = now();
      const made = entries.map((e) => ({ key: e.key, entry: local.wrap(e.value, e.ttl ?? o.ttl) }));
      const keys = made.map((m) => m.key);
      try {
        await guarded('setMany', () =>
          l2.setMany(
            made.map((m) => ({ key: m.key, value: m.entry.raw, ttl: levelTtl(m.entry.env.staleUntil, t) })),
          ),
        );
      } catch (err) {
        await dropEverywhere(keys);
        throw l2WriteError(err);
      }
      for (const key of keys) local.forget(key);
      const mark = fence.mark();
      for (const m of made) local.fillL1(m.key, m.entry, mark);
      await publish({ keys });
    },

    async delete(key) {
      assertOpen();
      assertKey(key);
      let removed: boolean;
      try {
        removed = await guarded('delete', () => l2.delete(key));
      } catch (err) {
        await dropEverywhere([key]);
        throw l2WriteError(err);
      }
      local.forget(key);
      const inL1 = await l1.delete(key).catch(() => false);
      await publish({ keys: [key] });
      return removed || inL1;
    },

    async deleteMany(keys) {
      assertOpen();
      assertKeys(keys);
      if (keys.length === 0) return 0;
      const unique = [...new Set(keys)];
      let removed: number;
      try {
        removed = await guarded('deleteMany', () => l2.deleteMany(unique));
      } catch (err) {
        await dropEverywhere(unique);
        throw l2WriteError(err);
      }
      for (const key of unique) local.forget(key);
      const inL1 = await l1.deleteMany(unique).catch(() => 0);
      await publish({ keys: unique });
      return Math.max(removed, inL1);
    },

    async clear() {
      assertOpen();
      try {
        await guarded('clear', () => l2.clear());
      } catch (err) {
        await dropEverywhere('all');
        throw l2WriteError(err);
      }
      await dropEverywhere('all');
    },
  };
}
