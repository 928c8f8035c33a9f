import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withTimeout } from '../../lib/core/timeout.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const quiet = { logger: { warn() {} } };

describe('prometheus metrics: endpoint lifecycle', () => {
  it('close() while listen() is still binding settles listen(): it rejects with MetricsError closed, nothing listens', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const listening = m.listen();
    await m.close();
    // Before the fix listen() never settled: a startup awaiting it hung forever.
    const err = await withTimeout(
      listening.then(
        () => undefined,
        (e: unknown) => e,
      ),
      5_000,
      () => new Error('listen() did not settle within 5 s of close()'),
    );
    assert.ok(err instanceof Error, 'listen() must reject once the adapter is closed');
    assert.equal((err as { code?: string }).code, 'closed');
    assert.equal(m.address, undefined);
    await assert.rejects(m.listen(), { code: 'closed' });
  });
});

describe('prometheus metrics: collect callbacks are bounded', () => {
  it('a collect callback that never settles delays a scrape by collectTimeoutMs at most, then is logged and skipped', async () => {
    const warnings: string[] = [];
    const m = createMetrics({ collectTimeoutMs: 100, logger: { warn: (msg) => void warnings.push(msg) } });
    const depth = m.gauge({ name: 'queue_depth', help: 'Jobs waiting' });
    m.onCollect(() => new Promise(() => {})); // e.g. a pool-stats query to a database that hangs
    m.onCollect(() => depth.set(7));
    // Before: every scrape waited for it forever (and piled up, one pending response per scrape).
    for (let i = 0; i < 2; i++) {
      const { body } = await withTimeout(m.render(), 5_000, () => new Error('render did not finish'));
      assert.match(body, /^queue_depth 7$/m);
    }
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /collect callback/);
    await m.close();
  });

  it('collectTimeoutMs is checked', () => {
    for (const bad of [0, -1, Number.NaN, 2 ** 31])
      assert.throws(() => createMetrics({ ...quiet, collectTimeoutMs: bad }), { code: 'invalid_option' });
  });
});
