/**
 * The README's memory figure for `numCounters` (docs audit): it said ≈ 3 bytes per counter, the
 * sketch (2) and doorkeeper (1) only; the ghost ring sized from `numCounters` (1 more) was left
 * out, so 2^26 counters took 256 MiB, not the 192 MB stated. The allocation is fixed at creation
 * (typed arrays), so it is read from `process.memoryUsage().arrayBuffers`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';

describe('memory cache footprint per sketch counter', () => {
  it('is about 4 bytes per counter, as the README says', () => {
    const counters = 2 ** 22;
    const before = process.memoryUsage().arrayBuffers;
    const cache = createSyncMemoryCache<number>({ maxCost: 10, numCounters: counters });
    const perCounter = (process.memoryUsage().arrayBuffers - before) / counters;
    cache.close();
    assert.ok(perCounter > 3.5 && perCounter < 4.5, `${perCounter} bytes per counter`);
  });
});
