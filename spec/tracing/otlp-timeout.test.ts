/**
 * The otlp exporter's own timeout, against a collector that accepts connections and never
 * answers (loopback). OpenTelemetry's defaults: `OTEL_EXPORTER_OTLP_TIMEOUT` 10 s for a request
 * with its retries, inside the batch processor's `OTEL_BSP_EXPORT_TIMEOUT` 30 s. The tracer used the
 * processor's 30 s for both, so such a collector held every export (and `flush()`) 30 s, and with
 * `OTEL_BSP_EXPORT_TIMEOUT` set, `OTEL_EXPORTER_OTLP_TIMEOUT` was ignored altogether. The timeout
 * that ended an export is read from its error (`span export did not finish within N ms`): no
 * timing assert.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createOtelTracer, type OtelTracerOptions } from '../../lib/tracing/otel/index.js';
import { resolveOptions } from '../../lib/tracing/otel/options.js';

const VARS = [
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_BSP_EXPORT_TIMEOUT',
] as const;

/** Sets `vars` (and unsets the other timeout variables) for this test. */
function withEnv(t: TestContext, vars: Partial<Record<(typeof VARS)[number], string>>) {
  const saved = VARS.map((name) => [name, process.env[name]] as const);
  for (const name of VARS) delete process.env[name];
  Object.assign(process.env, vars);
  t.after(() => {
    for (const [name, value] of saved)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });
}

/** A collector that accepts and never answers; `idle()` resolves once no connection is open (≤ 3 s). */
async function silentCollector(t: TestContext) {
  const open = new Set<Socket>();
  let onIdle: (() => void) | undefined;
  const server = createServer((socket) => {
    open.add(socket);
    socket.resume();
    socket.on('error', () => {});
    socket.on('close', () => {
      open.delete(socket);
      if (open.size === 0) onIdle?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of open) s.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    get open() {
      return open.size;
    },
    idle: () =>
      new Promise<void>((resolve) => {
        if (open.size === 0) return resolve();
        onIdle = resolve;
        setTimeout(resolve, 3000).unref();
      }),
  };
}

/** Ends one span, flushes, and returns the message of the export error `flush()` rejects with. */
async function timedOutExport(t: TestContext, options: OtelTracerOptions = {}) {
  const collector = await silentCollector(t);
  const tracer = createOtelTracer({
    serviceName: 'otlp-timeout',
    exporter: 'otlp',
    endpoint: collector.endpoint,
    ...options,
  });
  t.after(() => tracer.close({ timeoutMs: 1000 }));
  tracer.startSpan('s').end();
  const err = await tracer.flush().then(
    () => assert.fail('flush resolved against a collector that never answers'),
    (e: Error & { code?: string; causes?: Error[] }) => e,
  );
  assert.equal(err.code, 'flush_failed');
  // The exporter's own request timeout ends its request too: no connection is left open.
  await collector.idle();
  assert.equal(collector.open, 0, 'the timed-out request was ended');
  return String(err.causes?.[0]?.message);
}

describe('otlp exporter timeout (OTEL_EXPORTER_OTLP_TIMEOUT) inside the batch export timeout', () => {
  it('default: 10 s (the OTLP exporter specification), not the processor’s 30 s', async (t) => {
    withEnv(t, {});
    assert.match(await timedOutExport(t), /within 10000 ms/);
  });

  it('OTEL_EXPORTER_OTLP_TIMEOUT sets it, also when OTEL_BSP_EXPORT_TIMEOUT is set', async (t) => {
    withEnv(t, { OTEL_EXPORTER_OTLP_TIMEOUT: '300', OTEL_BSP_EXPORT_TIMEOUT: '30000' });
    assert.match(await timedOutExport(t), /within 300 ms/);
  });

  it('never above the processor’s export timeout', async (t) => {
    withEnv(t, { OTEL_EXPORTER_OTLP_TIMEOUT: '5000', OTEL_BSP_EXPORT_TIMEOUT: '250' });
    assert.match(await timedOutExport(t), /within 250 ms/);
  });

  it('batch.exportTimeoutMillis given in code stays the bound of an export (it was the one knob)', async (t) => {
    withEnv(t, {});
    assert.match(await timedOutExport(t, { batch: { exportTimeoutMillis: 400 } }), /within 400 ms/);
  });

  it('the traces variable lowers an export timeout given in code', async (t) => {
    withEnv(t, { OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '350', OTEL_EXPORTER_OTLP_TIMEOUT: '9000' });
    assert.match(await timedOutExport(t, { batch: { exportTimeoutMillis: 20_000 } }), /within 350 ms/);
  });

  it('resolved values: zipkin keeps the processor’s timeout; 0 is no limit, then capped by it', () => {
    const r = (env: Record<string, string>, options: OtelTracerOptions = {}) => {
      const o = resolveOptions(options, env);
      return [o.otlpTimeoutMillis, o.batch.exportTimeoutMillis];
    };
    assert.deepEqual(r({}), [10_000, 30_000]);
    assert.deepEqual(r({ OTEL_EXPORTER_OTLP_TIMEOUT: '60000' }), [30_000, 30_000]);
    assert.deepEqual(r({ OTEL_EXPORTER_OTLP_TIMEOUT: '0' }), [30_000, 30_000]);
    assert.deepEqual(
      r({ OTEL_EXPORTER_OTLP_TIMEOUT: '0', OTEL_BSP_EXPORT_TIMEOUT: '0' }),
      [2147483647, 2147483647],
    );
    assert.deepEqual(r({ OTEL_BSP_EXPORT_TIMEOUT: '60000' }), [10_000, 60_000]);
    assert.deepEqual(r({}, { batch: { exportTimeoutMillis: 45_000 } }), [45_000, 45_000]);
    assert.equal(
      resolveOptions({ exporter: 'zipkin' }, { OTEL_EXPORTER_OTLP_TIMEOUT: '500' }).batch.exportTimeoutMillis,
      30_000,
    );
  });
});
