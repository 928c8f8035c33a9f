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

/**
 * promtool's one finding on our own metrics: the OpenTelemetry name `db_client_connection_count`
 * (`db.client.connection.count`, an UpDownCounter, exported as a gauge) ends in `_count`, which its
 * lint reserves for histograms and summaries. Kept for compatibility with OpenTelemetry dashboards;
 * the README says so. `naming: 'legacy'` has no finding.
 */
const OTEL_DB_FINDING =
  'db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix';

/** prom-client's runtime gauges named `…_total` (upstream naming, not ours). */
const UPSTREAM =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

function findingsOf(output: string): string[] {
  return output.trim() === '' ? [] : output.trim().split('\n');
}

describeWithServers('prometheus metrics: promtool accepts the exposition', skipPromtool(), () => {
  for (const naming of ['otel', 'legacy'] as const)
    it(`the scraped text of every metric type, default labels, exemplars and overflow passes \`promtool check metrics\` (naming: ${naming})`, async () => {
      const m = createMetrics({
        naming,
        port: 0,
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
      m.observeRequest({ method: 'POST', route: '/pay', status: 502, seconds: 0.3 });
      m.observeHttpClient({
        method: 'GET',
        serverAddress: 'users',
        serverPort: 8081,
        scheme: 'http',
        status: 503,
        errorType: '503',
        seconds: 0.02,
      });
      m.watchCache({
        name: 'memory',
        stats: () => ({ hits: 8, misses: 2, hitRatio: 0.8, keysEvicted: 1, errors: 0 }),
      });
      m.watchDbConnections(() => ({ used: 1, idle: 2 }));
      const addr = await m.listen();
      try {
        const body = await (await fetch(addr!.url)).text();
        assert.ok(
          body.includes('hyperion_api_cache_requests_total{cache="memory",result="hit",service="gateway"} 8'),
        );
        assert.ok(body.includes('hyperion_api_http_client_request_duration_seconds_count{'));
        const { code, output } = await promtoolCheck(body);
        if (naming === 'legacy') {
          assert.equal(output.trim(), '', `promtool findings:\n${output}`);
          assert.equal(code, 0);
        } else {
          assert.deepEqual(findingsOf(output), [`hyperion_api_${OTEL_DB_FINDING}`], output);
          assert.equal(code, 3, 'a lint finding, no parse error');
          // Everything else passes: the exposition without that one family has no finding.
          const without = body.replace(/^.*hyperion_api_db_client_connection_count.*\n/gm, '');
          const rest = await promtoolCheck(without);
          assert.equal(rest.output.trim(), '', rest.output);
          assert.equal(rest.code, 0);
        }
        // The check is real: a broken exposition fails it.
        const broken = await promtoolCheck('# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n');
        assert.notEqual(broken.code, 0);
      } finally {
        await m.close();
      }
    });

  it("with runtime metrics the only other findings are prom-client's own gauge names (upstream naming)", async () => {
    const m = createMetrics({ collectRuntime: true });
    const { code, output } = await promtoolCheck((await m.render()).body);
    const findings = findingsOf(output);
    assert.deepEqual(
      findings.filter((f) => !UPSTREAM.test(f) && f !== OTEL_DB_FINDING),
      [],
      output,
    );
    assert.ok(
      code === 0 || (code === 3 && findings.length > 0),
      `exit ${code}: lint findings only, no parse error`,
    );
  });
});
