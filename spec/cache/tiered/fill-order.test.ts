/**
 * L1 fills follow the order in which their L2 reads were sent, not the order their results reach
 * the fill. Found by the tracking model test (`HYPERION_MODEL_RUNS=400`, seed 1025232555 path 21:
 * "caller 2 read b=o4 … older than o8 which that caller already read"): a getOrSet's L2 read sent
 * before an outside write and a getMany's read sent after it were answered in order (o4, then o8)
 * on one connection, but the getOrSet's result passes through more promise steps, so o8 went into
 * L1 first and o4 over it; until the write's invalidation arrived, the caller that had read o8
 * read o4 from L1. Here an L2 whose replies the test releases makes that order deterministic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Bytes, Cache } from '../../../lib/core/contracts.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

/** An L2 whose reads wait until the test answers them (in any order). */
function heldL2() {
  const base = createMemoryCache({ maxCost: 1 << 16 });
  const held: { keys: readonly string[]; answer: (values: (Bytes | undefined)[]) => void }[] = [];
  const hold = (keys: readonly string[]) =>
    new Promise<(Bytes | undefined)[]>((answer) => {
      held.push({ keys, answer });
    });
  const l2: Cache = {
    ...base,
    name: base.name,
    get: (key) => hold([key]).then((v) => v[0]),
    getMany: (keys) => hold(keys),
  };
  return { l2, held };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('tiered cache: L1 fills in the order of their L2 reads', () => {
  for (const [first, second] of [
    ['getOrSet', 'getMany'],
    ['getOrSet', 'get'],
    ['get', 'getMany'],
  ] as const) {
    it(`a ${first} read sent before a ${second} read never puts its older value over the newer one`, async () => {
      const { l2, held } = heldL2();
      // Values without envelope (another program's) are cached in L1 for l1Ttl.
      const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, l1Ttl: 60_000 });
      const read = (how: 'getOrSet' | 'getMany' | 'get') =>
        how === 'getOrSet'
          ? cache.getOrSet('b', async () => Buffer.from('loaded'))
          : how === 'get'
            ? cache.get('b')
            : cache.getMany(['b']).then((v) => v[0]);
      try {
        const older = read(first);
        await tick();
        const newer = read(second);
        await tick();
        assert.equal(held.length, 2, 'both reads reached L2');
        // The newer read is answered (and fills L1) first, the older one after it.
        held[1]!.answer([Buffer.from('new')]);
        assert.equal(text(await newer), 'new');
        held[0]!.answer([Buffer.from('old')]);
        assert.equal(text(await older), 'old'); // it began before the newer value was read
        await tick();
        assert.equal(held.length, 2, 'the next read is answered by L1');
        assert.equal(
          text(await cache.get('b')),
          'new',
          'L1 served the older value after the newer one was read',
        );
      } finally {
        for (const h of held.splice(0)) h.answer(h.keys.map(() => undefined));
        await cache.close();
      }
    });
  }
});
