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
