import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { parse } from 'yaml';
import { metricsOptionsFromConfig, metricsSection } from '../../lib/config/sections/metrics.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

describe('config: metrics section', () => {
  it('maps the original YAML keys to createMetrics options', async () => {
    const yaml = `
enabled: true
port: 0
path: /prom
namespace: hyperion
subsystem: api
collect_runtime: false
host: 127.0.0.1
default_labels: { service: gateway, shard: 3 }
max_series_per_metric: 500
naming: otel
prefix: hyperion
`;
    const section = v.parse(metricsSection, parse(yaml));
    const options = metricsOptionsFromConfig(section);
    assert.deepEqual(options, {
      enabled: true,
      port: 0,
      path: '/prom',
      namespace: 'hyperion',
      subsystem: 'api',
      collectRuntime: false,
      host: '127.0.0.1',
      defaultLabels: { service: 'gateway', shard: '3' },
      maxSeriesPerMetric: 500,
      naming: 'otel',
      prefix: 'hyperion',
    });
    const m = createMetrics(options);
    const addr = await m.listen();
    try {
      assert.ok(addr?.url.endsWith('/prom'));
      const body = await (await fetch(addr!.url)).text();
      assert.match(body, /^# TYPE hyperion_db_client_connection_count gauge$/m);
      assert.match(body, /^# TYPE hyperion_http_server_request_duration_seconds histogram$/m);
      const legacy = createMetrics(
        metricsOptionsFromConfig(v.parse(metricsSection, parse('naming: legacy\nnamespace: hyperion'))),
      );
      assert.match((await legacy.render()).body, /^hyperion_db_connections_active 0$/m);
      assert.deepEqual(metricsOptionsFromConfig(v.parse(metricsSection, { prefix: '' })), { prefix: '' });
    } finally {
      await m.close();
    }
  });

  it('an empty section keeps the factory defaults', () => {
    assert.deepEqual(metricsOptionsFromConfig(v.parse(metricsSection, {})), {});
  });

  it('reports every bad field at once', () => {
    const r = v.safeParse(metricsSection, {
      port: 70000,
      path: 'metrics',
      namespace: 'bad-name',
      default_labels: { __reserved: 'x' },
      max_series_per_metric: 0,
      colect_runtime: true,
      naming: 'prom',
      prefix: 'a-b',
    });
    assert.equal(r.success, false);
    const paths = (r.issues ?? []).map((i) => i.path?.map((p) => String(p.key)).join('.')).sort();
    assert.deepEqual(paths, [
      'colect_runtime',
      'default_labels.__reserved',
      'max_series_per_metric',
      'namespace',
      'naming',
      'path',
      'port',
      'prefix',
    ]);
  });
});
