/**
 * An `onEvict` hook that throws is reported as a process warning, never thrown. It used to be one
 * warning per call: a hook broken for good printed one stderr line per eviction (49,900 lines for
 * 50,000 sets into a 100-entry cache, and the sets ran ~9× slower). Now one warning per cache.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';

async function warningsDuring(work: () => void): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (w: Error) => {
    if ((w as Error & { code?: string }).code === 'HYPERION_MEMORY_ON_EVICT') seen.push(w);
  };
  process.on('warning', listener);
  try {
    work();
    // Warnings are emitted on a later tick.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

describe('memory cache: a throwing onEvict hook', () => {
  it('is reported once per cache, however often it throws', async () => {
    let calls = 0;
    const make = () =>
      createSyncMemoryCache<number>({
        maxCost: 10,
        cost: () => 1,
        onEvict: () => {
          calls++;
          throw new Error('hook broken');
        },
      });
    const a = make();
    const b = make();
    const seen = await warningsDuring(() => {
      for (let i = 0; i < 1000; i++) a.set(`a${i}`, i);
      for (let i = 0; i < 1000; i++) b.set(`b${i}`, i);
    });
    a.close();
    b.close();
    // Every removal still reached the hook.
    const st = [a.stats(), b.stats()];
    assert.equal(
      calls,
      st.reduce((n, s) => n + (s.keysEvicted ?? 0) + (s.keysRejected ?? 0), 0),
    );
    assert.ok(calls > 1900, `hook called ${calls} times`);
    assert.equal(seen.length, 2, `${seen.length} warnings`);
    for (const w of seen) assert.match(w.message, /onEvict threw: hook broken.*not reported/);
  });
});
