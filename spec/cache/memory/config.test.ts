import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { memoryOptionsFromConfig, memorySection } from '../../../lib/config/sections/memory.js';

describe('memory config section', () => {
  it('parses the original YAML keys and maps them to options', () => {
    const section = v.parse(memorySection, {
      type: 'memory',
      max_cost: 104_857_600,
      num_counters: 1_000_000,
      metrics: false,
      default_ttl: '5m',
    });
    assert.deepEqual(memoryOptionsFromConfig(section), {
      maxCost: 104_857_600,
      numCounters: 1_000_000,
      metrics: false,
      defaultTtl: 300_000,
    });
    assert.deepEqual(memoryOptionsFromConfig(v.parse(memorySection, { type: 'memory', max_cost: 10 })), {
      maxCost: 10,
    });
  });

  it('rejects bad values and unknown keys', () => {
    for (const bad of [
      { type: 'memory', max_cost: 0 },
      { type: 'memory', max_cost: -1 },
      { type: 'memory' },
      { type: 'memory', max_cost: 10, num_counters: 1.5 },
      { type: 'memory', max_cost: 10, default_ttl: 'soon' },
      { type: 'memory', max_cost: 10, default_ttl: 0 },
      { type: 'memory', max_cost: 10, maxCost: 10 },
      { type: 'redis', max_cost: 10 },
    ]) {
      assert.equal(v.safeParse(memorySection, bad).success, false, JSON.stringify(bad));
    }
  });

  it('buffer_items is accepted but warns loudly that it does nothing', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const options = memoryOptionsFromConfig(
      v.parse(memorySection, { type: 'memory', max_cost: 1000, buffer_items: 64 }),
    );
    assert.equal(options.bufferItems, 64);
    const cache = createMemoryCache(options);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    const w = warnings.find((x) => (x as { code?: string }).code === 'HYPERION_MEMORY_BUFFER_ITEMS');
    assert.ok(w, 'a deprecation warning was emitted');
    assert.equal(w.name, 'DeprecationWarning');
    assert.match(w.message, /no effect/);
    await cache.close();
  });
});
