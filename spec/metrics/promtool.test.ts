import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import { withTimeout } from '../../lib/core/timeout.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers, findBinary } from '../harness/process.js';
import { skipPromtool } from '../harness/prometheus.js';

/** Pipes `text` into `promtool check metrics`; resolves its exit code and output (rejects after 15 s). */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(findBinary('promtool')!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b));
  child.stderr.on('data', (b: Buffer) => (output += b));
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
  child.stdin.end(text);
  return withTimeout(done, 15_000, () => {
    child.kill('SIGKILL');
    return new Error(`promtool check metrics gave no answer within 15 s; output so far:\n${output}`);
  });
}

describeWithServers('prometheus metrics: promtool accepts the exposition', skipPromtool(), () => {
  it('the scraped text of every metric type, default labels, exemplars and overflow passes `promtool check metrics`', async () => {
    const m = createMetrics({
      namespace: 'hyperion',
      subsystem: 'api',
      defaultLabels: { service: 'gateway' },
      maxSeriesPerMetric: 3,
      logger: { warn() {} },
    });
    const orders = m.counter({
      name: 'orders_total',
      help: 'Orders with "quotes", a \\ and\na newline',
      labelNames: ['kind'],
    });
    for (const k of ['a', 'b', 'c', 'd', 'e']) orders.inc({ kind: k });
    orders.inc({ kind: 'a' }, 0.5);
    m.gauge({ name: 'queue_depth', help: 'Depth', labelNames: ['queue'] }).set({ queue: 'line"1\n' }, -3);
    m.histogram({ name: 'payload_bytes', help: 'Sizes', buckets: [10, 100, 1000] }).observe({}, 42, {
      trace_id: 'x',
    });
    m.observeRequest({
      method: 'GET',
      route: '/users/:id',
      status: 200,
      seconds: 0.012,
      traceId: 'a'.repeat(32),
    });
    m.watchCache({
      name: 'memory',
      stats: () => ({ hits: 8, misses: 2, hitRatio: 0.8, keysEvicted: 1, errors: 0 }),
    });
    const addr = await m.listen();
    try {
      const body = await (await fetch(addr!.url)).text();
      assert.ok(body.includes('hyperion_api_cache_hit_rate{cache_type="memory",service="gateway"} 0.8'));
      const { code, output } = await promtoolCheck(body);
      assert.equal(output.trim(), '', `promtool findings:\n${output}`);
      assert.equal(code, 0);
      // The check is real: a broken exposition fails it.
      const broken = await promtoolCheck('# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n');
      assert.notEqual(broken.code, 0);
    } finally {
      await m.close();
    }
  });

  it("with runtime metrics the only findings are prom-client's own gauge names (upstream naming)", async () => {
    const m = createMetrics({ collectRuntime: true });
    const { code, output } = await promtoolCheck((await m.render()).body);
    const findings = output.trim() === '' ? [] : output.trim().split('\n');
    const upstream =
      /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    assert.deepEqual(
      findings.filter((f) => !upstream.test(f)),
      [],
      output,
    );
    assert.ok(
      code === 0 || (code === 3 && findings.length > 0),
      `exit ${code}: lint findings only, no parse error`,
    );
  });
});
