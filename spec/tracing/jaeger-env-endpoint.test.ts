/**
 * `OTEL_TRACES_EXPORTER=jaeger` with `OTEL_EXPORTER_JAEGER_ENDPOINT` (the jaeger exporter's own
 * variable) sends the spans there, as `OTEL_EXPORTER_ZIPKIN_ENDPOINT` does for zipkin. The tracer
 * always gave the exporter an endpoint — its default `http://localhost:14268/api/traces` — and the
 * exporter reads the variable only without one: every span went to localhost (ECONNREFUSED), and
 * the collector the variable named got none. The exporter exists on the OpenTelemetry JS 2.x line only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../lib/core/errors.js';
import { applyOtelEnv, type EnvSettableOptions } from '../../lib/tracing/otel/env.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';
import { sdk } from './otel-line.js';

/** The endpoint the variables give `options`. */
const endpointOf = (options: EnvSettableOptions, env: Record<string, string>): string | undefined =>
  applyOtelEnv(options, env).endpoint;

describe('OTEL_EXPORTER_JAEGER_ENDPOINT (applyOtelEnv)', () => {
  it('is the jaeger endpoint when none is given, checked as the other endpoint variables, and ignored by other exporters', () => {
    const url = 'http://jaeger.example:14268/api/traces';
    assert.equal(endpointOf({}, { OTEL_TRACES_EXPORTER: 'jaeger', OTEL_EXPORTER_JAEGER_ENDPOINT: url }), url);
    assert.equal(endpointOf({ exporter: 'jaeger' }, { OTEL_EXPORTER_JAEGER_ENDPOINT: url }), url);
    // An option given in code wins; an empty variable is unset.
    assert.equal(
      endpointOf(
        { exporter: 'jaeger', endpoint: 'http://mine:14268/api/traces' },
        { OTEL_EXPORTER_JAEGER_ENDPOINT: url },
      ),
      'http://mine:14268/api/traces',
    );
    assert.equal(endpointOf({ exporter: 'jaeger' }, { OTEL_EXPORTER_JAEGER_ENDPOINT: '' }), undefined);
    assert.equal(endpointOf({ exporter: 'zipkin' }, { OTEL_EXPORTER_JAEGER_ENDPOINT: url }), undefined);
    assert.throws(
      () => applyOtelEnv({ exporter: 'jaeger' }, { OTEL_EXPORTER_JAEGER_ENDPOINT: 'jaeger:14268' }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.some((i) => i.path === 'OTEL_EXPORTER_JAEGER_ENDPOINT'),
    );
  });
});

const skip =
  skipUnless(['jaeger'], JAEGER_INSTALL_HINT) || (sdk.line !== 2 && 'the jaeger exporter is 2.x only');

describeWithServers('OTEL_EXPORTER_JAEGER_ENDPOINT against a real Jaeger', skip, () => {
  let jaeger: Jaeger;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    jaeger = await startJaeger();
    for (const name of ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_JAEGER_ENDPOINT'])
      saved[name] = process.env[name];
  });

  after(async () => {
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    await jaeger?.stop();
  });

  it('OTEL_TRACES_EXPORTER=jaeger exports to the collector OTEL_EXPORTER_JAEGER_ENDPOINT names', async () => {
    process.env.OTEL_TRACES_EXPORTER = 'jaeger';
    process.env.OTEL_EXPORTER_JAEGER_ENDPOINT = jaeger.jaegerEndpoint;
    const tracer = createOtelTracer({ serviceName: 'jaeger-env-endpoint' });
    const span = tracer.startSpan('op');
    const traceId = span.spanContext().traceId;
    span.end();
    try {
      // Before: flush rejected with ECONNREFUSED 127.0.0.1:14268.
      await tracer.flush();
    } finally {
      await tracer.close();
    }
    const trace = await waitFor(() => jaeger.getTrace(traceId), {
      timeoutMs: 15_000,
      intervalMs: 200,
      what: `trace ${traceId} in Jaeger`,
    });
    assert.deepEqual(
      trace.spans.map((s) => s.operationName),
      ['op'],
    );
  });
});
