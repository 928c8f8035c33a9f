/**
 * `flush()` against a collector that is down rejects with `TracingError('flush_failed')` whose
 * causes are the export errors. The OTLP exporter's said `code: 'HYPERION_EXPORT_NETWORK_ERROR'`
 * (the tracer's internal label that keeps the exporter from retrying on timers of its own), where
 * the zipkin exporter's said `ECONNREFUSED`, as Node does: a caller telling "collector down" from
 * other failures by the cause's code missed it for OTLP. Found from outside with a closed port.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { freePort } from '../harness/process.js';

it("flush()'s causes carry Node's code for a refused connection, for otlp as for zipkin", async () => {
  const port = await freePort();
  for (const [exporter, path] of [
    ['otlp', '/v1/traces'],
    ['zipkin', '/api/v2/spans'],
  ] as const) {
    const tracer = createOtelTracer({
      serviceName: 'svc',
      exporter,
      endpoint: `http://127.0.0.1:${port}${path}`,
    });
    try {
      tracer.startSpan('op').end();
      const err = await tracer.flush().then(
        () => assert.fail(`${exporter}: flush must reject, nothing listens on ${port}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TracingError, `${exporter}: ${String(err)}`);
      assert.equal(err.code, 'flush_failed');
      const cause = err.causes[0] as { code?: unknown; originalCode?: unknown } | undefined;
      assert.equal(cause?.code, 'ECONNREFUSED', `${exporter}: ${String(cause)}`);
      assert.equal(cause?.originalCode, undefined, exporter);
      assert.equal(err.cause, err.causes[0]);
    } finally {
      await tracer.close();
    }
  }
});
