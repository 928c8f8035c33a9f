/**
 * A default label named like a label of a built-in metric (`cache`, `http_route`, legacy
 * `status`): the metric's series cannot carry the name twice. createMetrics failed as it
 * registered that built-in metric, with a message blaming the metric (`label name "http_route" of
 * "http_server_request_duration_seconds" is already a default label`), and the config file loaded,
 * then createAppFromConfig failed with that MetricsError — with a tiered cache, `source` too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAppFromConfig, loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError, MetricsError } from '../../lib/core/errors.js';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { BUILTIN_LABELS } from '../../lib/metrics/prometheus/names.js';

const quiet = { warn() {} };
const NAMINGS = ['otel', 'legacy'] as const;

/** Every label name of a built-in metric under `naming`, with the first metric that has it. */
function builtinLabels(naming: 'otel' | 'legacy'): Map<string, string> {
  const out = new Map<string, string>();
  for (const [metric, labels] of Object.entries(BUILTIN_LABELS[naming]))
    for (const l of labels) if (!out.has(l)) out.set(l, metric);
  return out;
}

function configFailure(text: string): ConfigError {
  try {
    loadConfigFromText(text, { format: 'yaml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`the config loaded: ${text}`);
}

describe('prometheus metrics: a default label named like a built-in metric label', () => {
  for (const naming of NAMINGS)
    it(`the table of built-in labels is what createMetrics registers (naming: ${naming})`, () => {
      const m = createMetrics({ naming, logger: quiet });
      const registered: Record<string, string[]> = {};
      for (const metric of m.registry.getMetricsAsArray() as unknown as {
        name: string;
        labelNames: string[];
      }[])
        registered[metric.name] = [...metric.labelNames];
      assert.deepEqual(
        registered,
        Object.fromEntries(Object.entries(BUILTIN_LABELS[naming]).map(([k, v]) => [k, [...v]])),
      );
    });

  for (const naming of NAMINGS)
    it(`createMetrics names the default label and the built-in metric (naming: ${naming})`, () => {
      for (const [label, metric] of builtinLabels(naming)) {
        assert.throws(
          () => createMetrics({ naming, namespace: 'shop', defaultLabels: { [label]: 'x' }, logger: quiet }),
          (err: unknown) =>
            err instanceof MetricsError &&
            err.code === 'invalid_label' &&
            err.message.includes(
              `default label "${label}" is a label of the built-in metric "shop_${metric}" (naming: ${naming})`,
            ),
          `defaultLabels { ${label} } under naming ${naming}`,
        );
      }
    });

  it('an empty value is no label, so the name is free; a disabled adapter registers nothing to clash', async () => {
    const m = createMetrics({ defaultLabels: { cache: '', service: 'api' }, logger: quiet });
    m.watchCache({ name: 'users', stats: () => ({ hits: 2, misses: 1 }) } as never);
    const body = (await m.render()).body;
    assert.match(body, /^cache_requests_total\{cache="users",result="hit",service="api"\} 2$/m);
    await m.close();
    const off = createMetrics({ enabled: false, defaultLabels: { http_route: 'x' } });
    await off.close();
  });

  it('the config file is refused at load with the path of each such label', () => {
    const otel = configFailure(
      'metrics: { default_labels: { service: api, cache: main, http_route: x, status: ok } }\n',
    );
    assert.deepEqual(
      otel.issues.map((i) => [i.path, i.message]),
      [
        [
          'metrics.default_labels.cache',
          'is a label of the built-in metric cache_requests_total (naming: otel), which cannot carry it twice',
        ],
        [
          'metrics.default_labels.http_route',
          'is a label of the built-in metric http_server_request_duration_seconds (naming: otel), which cannot carry it twice',
        ],
      ],
    );
    const legacy = configFailure(
      'metrics: { naming: legacy, default_labels: { status: ok, http_route: x } }\n',
    );
    assert.deepEqual(
      legacy.issues.map((i) => i.path),
      ['metrics.default_labels.status'],
    );
    const tiered = configFailure(
      [
        'metrics: { default_labels: { source: api } }',
        'cache:',
        '  type: tiered',
        '  l1: { type: memory, max_cost: 1000000 }',
        '  l2: { type: redis, mode: standalone, addresses: ["127.0.0.1:6379"] }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      tiered.issues.map((i) => [i.path, i.message]),
      [
        [
          'metrics.default_labels.source',
          "is a label of the tiered cache's metric cache_invalidations_total, which cannot carry it twice",
        ],
      ],
    );
    // Nothing is built for a disabled section, and an empty value is no label.
    loadConfigFromText('metrics: { enabled: false, default_labels: { cache: x } }\n', { format: 'yaml' });
    loadConfigFromText('metrics: { default_labels: { cache: "" } }\n', { format: 'yaml' });
  });

  it('a name free under the naming in use builds, and the endpoint serves it on the built-in series', async () => {
    // `status` is a label of the legacy requests_total only.
    const config = loadConfigFromText('metrics: { port: 0, default_labels: { status: canary } }\n', {
      format: 'yaml',
    });
    const app = await createAppFromConfig(config);
    try {
      const metrics = app.metrics as unknown as PrometheusMetrics;
      metrics.observeRequest({ method: 'GET', route: '/r', status: 200, seconds: 0.01 });
      const res = await fetch(metrics.address!.url);
      assert.equal(res.status, 200);
      assert.match(
        await res.text(),
        /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/r",http_response_status_code="200",url_scheme="http",status="canary"\} 1$/m,
      );
    } finally {
      await app.close();
    }
  });

  it('with a tracer, `reason` (of spans_dropped_total) is refused at load; the span counters are served otherwise', async () => {
    // It loaded, and createApp then left out spans_dropped_total and spans_exported_total with
    // one warning: the tracer's export losses never reached Prometheus.
    const clash = configFailure(
      'tracing: { exporter: memory }\nmetrics: { default_labels: { reason: deploy } }\n',
    );
    assert.deepEqual(
      clash.issues.map((i) => [i.path, i.message]),
      [
        [
          'metrics.default_labels.reason',
          "is a label of the tracer's metric spans_dropped_total, which cannot carry it twice",
        ],
      ],
    );
    // No tracer (none, disabled) or an exporter that exports nothing: no such metric to clash with.
    for (const tracing of ['', 'tracing: { enabled: false }\n', 'tracing: { exporter: none }\n'])
      loadConfigFromText(`${tracing}metrics: { default_labels: { reason: deploy } }\n`, { format: 'yaml' });
    const warnings: string[] = [];
    const app = await createAppFromConfig(
      loadConfigFromText(
        'tracing: { exporter: memory }\nmetrics: { port: 0, default_labels: { rollout: canary } }\n',
        {
          format: 'yaml',
        },
      ),
      { logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} } },
    );
    try {
      const metrics = app.metrics as unknown as PrometheusMetrics;
      const body = await (await fetch(metrics.address!.url)).text();
      assert.match(body, /^spans_exported_total\{rollout="canary"\} 0$/m);
      assert.match(body, /^spans_dropped_total\{reason="export_failed",rollout="canary"\} 0$/m);
      assert.deepEqual(warnings, []);
    } finally {
      await app.close();
    }
  });
});
