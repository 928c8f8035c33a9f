/**
 * The PromQL the metrics README gives, run as written against a real Prometheus scraping the
 * adapter: the error ratio must not count requests the cardinality cap folded into the overflow
 * series (whose labels, `error_type` included, are all `__overflow__`) as failures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const README = new URL('../../lib/metrics/prometheus/README.md', import.meta.url);

/** The README's error ratio per route: the two lines after its comment in the PromQL block. */
function readmeErrorRatio(): string {
  const lines = readFileSync(README, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith('# requests per second and error ratio per route'));
  assert.ok(at >= 0, 'the README has the error ratio query');
  return `${lines[at + 2]}\n${lines[at + 3]}`;
}

describeWithServers('metrics README PromQL, against a real Prometheus', skipPrometheus(), () => {
  let metrics: PrometheusMetrics;
  let prom: PrometheusServer;

  before(async () => {
    metrics = createMetrics({ port: 0, maxSeriesPerMetric: 2, logger: { warn() {} } });
    const { port } = (await metrics.listen())!;
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] });
  });

  after(async () => {
    await prom?.stop();
    await metrics?.close();
  });

  it('the error ratio counts failures, not the successes folded into the overflow series (they read as 100 % errors)', async () => {
    const query = readmeErrorRatio();
    const request = (route: string, status: number) =>
      metrics.observeRequest({ method: 'GET', route, status, seconds: 0.01 });
    const total = 'sum by (http_route) (rate(http_server_request_duration_seconds_count[5m]))';
    // Room for 2 series: /r0's successes and its 500s. Successes on /r1…/r3 fold into the overflow
    // series. Traffic goes on while waiting, so rate() has an increase to divide (bounded: 30 s,
    // 150 rounds).
    const deadline = Date.now() + 30_000;
    let ready = false;
    for (let round = 0; round < 150 && Date.now() < deadline && !ready; round++) {
      request('/r0', 200);
      request('/r0', 500);
      for (const route of ['/r1', '/r2', '/r3']) request(route, 200);
      const rates = await prom.query(total);
      ready = rates.filter((r) => r.value > 0).length === 2;
      if (!ready) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(ready, 'Prometheus has the request rates of /r0 and of the overflow series');
    const ratio = new Map((await prom.query(query)).map((s) => [s.metric.http_route, s.value]));
    const shown = JSON.stringify([...ratio]);
    assert.ok(Math.abs((ratio.get('/r0') ?? 0) - 0.5) < 0.1, `the failures of /r0 are counted: ${shown}`);
    // Before: {http_route="__overflow__"} 1, every folded success counted as a failure.
    assert.ok(!((ratio.get('__overflow__') ?? 0) > 0), `folded successes are not failures: ${shown}`);
  });
});
