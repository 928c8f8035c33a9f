import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../lib/config/load.js';
import { tracingOptionsFromConfig, tracingSection } from '../../lib/config/sections/tracing.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const schema = v.object({ tracing: tracingSection });

/** Paths of the issues a config produces (valibot paths joined with dots). */
function issuePaths(raw: unknown): string[] {
  const r = v.safeParse(schema, raw, { abortEarly: false });
  assert.equal(r.success, false, 'expected the config to be rejected');
  return [...new Set((r.issues ?? []).map((i) => (i.path ?? []).map((p) => String(p.key)).join('.')))].sort();
}

describe('tracing config section', () => {
  it('maps the original YAML to factory options', () => {
    const raw = parseYaml(`
tracing:
  enabled: true
  service_name: my-service
  exporter: jaeger
  endpoint: localhost:14268
  sample_rate: 0.25
  attributes:
    environment: production
    version: v1.0.0
  headers:
    x-tenant: acme
  batch:
    max_queue_size: 4096
    max_export_batch_size: 256
    scheduled_delay: 2s
    export_timeout: 1500ms
  propagators: [tracecontext, baggage, b3]
  active_context: true
`);
    const section = v.parse(schema, raw).tracing;
    assert.deepEqual(tracingOptionsFromConfig(section), {
      enabled: true,
      serviceName: 'my-service',
      exporter: 'jaeger',
      endpoint: 'localhost:14268',
      sampleRate: 0.25,
      attributes: { environment: 'production', version: 'v1.0.0' },
      headers: { 'x-tenant': 'acme' },
      batch: {
        maxQueueSize: 4096,
        maxExportBatchSize: 256,
        scheduledDelayMillis: 2000,
        exportTimeoutMillis: 1500,
      },
      propagators: ['tracecontext', 'baggage', 'b3'],
      activeContext: true,
    });
  });

  it('an empty section maps to no options (factory defaults apply)', async () => {
    assert.deepEqual(tracingOptionsFromConfig(v.parse(tracingSection, {})), {});
    const tracer = createOtelTracer({
      ...tracingOptionsFromConfig(v.parse(tracingSection, { exporter: 'memory' })),
    });
    assert.ok(tracer.startSpan('s').isRecording());
    await tracer.close();
  });

  it("the file's top-level service name reaches a tracer built from the mapping: config.service, second", async () => {
    // `service: { name }` is the default of `tracing.service_name`; createAppFromConfig applied it,
    // but a tracer built with tracingOptionsFromConfig(config.tracing) was `unknown_service:node`.
    const { loadConfigFromText } = await import('../../lib/config/index.js');
    const named = (text: string) => {
      const config = loadConfigFromText(text, { format: 'yaml' });
      const options = tracingOptionsFromConfig(config.tracing!, config.service);
      const tracer = createOtelTracer(options);
      tracer.startSpan('s').end();
      const name = tracer.finishedSpans()[0]!.resource.attributes['service.name'];
      return { options, name, close: () => tracer.close() };
    };
    const top = named('service: { name: users }\ntracing: { exporter: memory }\n');
    assert.deepEqual(top.options, { serviceName: 'users', exporter: 'memory' });
    assert.equal(top.name, 'users');
    await top.close();
    // tracing.service_name wins, as in createAppFromConfig; no service section: nothing added.
    const own = named('service: { name: users }\ntracing: { exporter: memory, service_name: users-api }\n');
    assert.equal(own.name, 'users-api');
    await own.close();
    const none = named('tracing: { exporter: memory }\n');
    assert.deepEqual(none.options, { exporter: 'memory' });
    await none.close();
    // The service section given in place of the tracing one says where it goes.
    assert.throws(
      () => tracingOptionsFromConfig({ name: 'users' } as never),
      /give it second, tracingOptionsFromConfig\(config\.tracing, config\.service\)/,
    );
    assert.throws(
      () => tracingOptionsFromConfig({ exporter: 'memory' }, { name: 5 } as never),
      (e: unknown) => e instanceof ConfigError && e.issues[0]?.path === 'service.name',
    );
  });

  it('names each bad field: unknown exporter, sample_rate outside [0,1], malformed endpoint, typos', () => {
    assert.deepEqual(issuePaths({ tracing: { exporter: 'kafka' } }), ['tracing.exporter']);
    assert.deepEqual(issuePaths({ tracing: { sample_rate: 1.5 } }), ['tracing.sample_rate']);
    assert.deepEqual(issuePaths({ tracing: { sample_rate: -1 } }), ['tracing.sample_rate']);
    assert.deepEqual(issuePaths({ tracing: { endpoint: 'ftp://x' } }), ['tracing.endpoint']);
    // Port 0 or an empty one: the exporter would have sent to port 80.
    assert.deepEqual(issuePaths({ tracing: { endpoint: 'http://collector:0/v1/traces' } }), [
      'tracing.endpoint',
    ]);
    assert.deepEqual(issuePaths({ tracing: { endpoint: 'http://collector:/v1/traces' } }), [
      'tracing.endpoint',
    ]);
    assert.deepEqual(issuePaths({ tracing: { endpoint: 'not a url' } }), ['tracing.endpoint']);
    assert.deepEqual(issuePaths({ tracing: { sample_ratio: 0.5 } }), ['tracing.sample_ratio']);
    assert.deepEqual(issuePaths({ tracing: { batch: { scheduled_delay: 'soon', max_queue_size: 0 } } }), [
      'tracing.batch.max_queue_size',
      'tracing.batch.scheduled_delay',
    ]);
    assert.deepEqual(issuePaths({ tracing: { propagators: ['w3c'] } }), ['tracing.propagators.0']);
  });

  it('through the config loader: one ConfigError naming every bad tracing field', () => {
    assert.throws(
      () => validateConfig(schema, { tracing: { exporter: 'kafka', sample_rate: 2, endpoint: 'nope nope' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.issues.map((i) => i.path).sort(), [
          'tracing.endpoint',
          'tracing.exporter',
          'tracing.sample_rate',
        ]);
        return true;
      },
    );
  });

  it('batch size above queue size: rejected by the schema, and by the factory for direct options', () => {
    const r = v.safeParse(tracingSection, { batch: { max_queue_size: 10, max_export_batch_size: 20 } });
    assert.equal(r.success, false);
    assert.deepEqual(
      r.issues?.map((i) => i.path?.map((p) => p.key).join('.')),
      ['batch.max_export_batch_size'],
    );
    assert.throws(
      () => createOtelTracer({ batch: { maxQueueSize: 10, maxExportBatchSize: 20 } }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.some((i) => i.path === 'batch.maxExportBatchSize'),
    );
  });
});
