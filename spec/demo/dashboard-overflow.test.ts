/**
 * The Services (RED) dashboard's error-ratio panel against a real Prometheus, with requests folded
 * into the cardinality cap's overflow series. That series has every label `__overflow__`,
 * `error_type` included, failed or not: the panel's query used `error_type!=""` alone, so a
 * service whose requests all succeeded showed 85 % errors once it went past the cap.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function errorRatioExpr(): string {
  const d = JSON.parse(readFileSync(join(root, 'demo/ops/grafana/dashboards/services-red.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const panel = d.panels.find((p) => p.title === 'Error ratio by service');
  assert.ok(panel, 'the error-ratio panel');
  return panel.targets[0]!.expr.replaceAll('$__rate_interval', '1m');
}

describeWithServers('demo dashboard: error ratio past the cardinality cap', skipPrometheus(), () => {
  // Cap 2: `ok-only` keeps GET /ok 200 and folds the rest (all 200); `mixed` keeps a 200 and a 500
  // route, then folds twenty 200s.
  const okOnly = createMetrics({ defaultLabels: { service: 'ok-only' }, maxSeriesPerMetric: 2, port: 0 });
  const mixed = createMetrics({ defaultLabels: { service: 'mixed' }, maxSeriesPerMetric: 2, port: 0 });
  let prom: PrometheusServer;
  let timer: NodeJS.Timeout | undefined;
  let rounds = 0;
  const observe = () => {
    rounds++;
    okOnly.observeRequest({ method: 'GET', route: '/ok', status: 200, seconds: 0.01 });
    okOnly.observeRequest({ method: 'GET', route: '/ok2', status: 200, seconds: 0.01 });
    mixed.observeRequest({ method: 'GET', route: '/ok', status: 200, seconds: 0.01 });
    mixed.observeRequest({ method: 'GET', route: '/fail', status: 500, seconds: 0.01 });
    for (let i = 0; i < 20; i++) {
      okOnly.observeRequest({ method: 'GET', route: `/folded/${i}`, status: 200, seconds: 0.01 });
      mixed.observeRequest({ method: 'GET', route: `/folded/${i}`, status: 200, seconds: 0.01 });
    }
  };

  before(async () => {
    await Promise.all([okOnly.listen(), mixed.listen()]);
    observe();
    prom = await startPrometheus({
      scrapeTargets: [okOnly, mixed].map((m) => `127.0.0.1:${m.address!.port}`),
    });
    // Bounded: at most 600 rounds (two minutes), stopped in after().
    timer = setInterval(() => {
      if (rounds < 600) observe();
    }, 200);
  });

  after(async () => {
    clearInterval(timer);
    await Promise.allSettled([prom?.stop(), okOnly.close(), mixed.close()]);
  });

  it('folded requests are not counted as failures: 0 without failures, 1 in 2 with one 500 per 200', async () => {
    const expr = errorRatioExpr();
    await prom.waitForSeries(
      'http_server_request_duration_seconds_count{http_route="__overflow__"}',
      (s) => s.length === 2,
    );
    const ratio = await prom.waitForSeries(expr, (s) => s.length === 2, { timeoutMs: 20_000 });
    const by = Object.fromEntries(ratio.map((s) => [s.metric.service, s.value]));
    assert.equal(by['ok-only'], 0, `no request failed: ${JSON.stringify(ratio)}`);
    assert.ok(
      Math.abs(by.mixed! - 0.5) < 0.05,
      `one 500 per 200 outside the overflow: ${JSON.stringify(ratio)}`,
    );
  });
});
