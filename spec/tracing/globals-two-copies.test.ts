/**
 * Two copies of the package in one process (two versions installed side by side: the
 * application's and a library's nested one), each with a tracer using `registerGlobal` and
 * `activeContext`, as a reload or a tenant per tracer would. The OpenTelemetry globals are one per
 * process, but each copy kept its own record of what its tracers held: the second copy's tracer
 * could not share the context manager or queue for the provider and propagator (the API logged
 * "Attempted duplicate registration" three times), and once the first copy's tracer closed it
 * unregistered all three under it — `activate` made nothing active, the global tracer recorded
 * nothing and the global propagator injected nothing. That record is now process-wide.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import * as first from '../../lib/tracing/otel/index.js';
import { type SecondCopy, secondCopy } from '../harness/second-copy.js';

let copy: SecondCopy;
let second: typeof first;
before(async () => {
  copy = await secondCopy();
  second = (await import(pathToFileURL(join(copy.lib, 'tracing/otel/index.ts')).href)) as typeof first;
});
after(() => copy.remove());

/** What `tracer` sees of the globals: its span active in `activate`, the global tracer and propagator. */
async function globalsOf(tracer: first.OtelTracer) {
  const span = tracer.startSpan('outer');
  const id = span.spanContext().spanId;
  let active: string | undefined;
  await tracer.activate?.(span, async () => {
    active = trace.getActiveSpan()?.spanContext().spanId;
  });
  span.end();
  trace.getTracer('third-party').startSpan('global').end();
  const headers: Record<string, string> = {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  propagation.inject(
    trace.setSpan(context.active(), trace.wrapSpanContext({ traceId, spanId, traceFlags })),
    headers,
  );
  return {
    activeIsOurs: active === id,
    globalTracerExportsHere: tracer.finishedSpans().some((s) => s.name === 'global'),
    globalPropagatorInjects: headers.traceparent?.includes(id) === true,
  };
}

describe('OpenTelemetry globals with two copies of the package', () => {
  it("closing the first copy's tracer hands the globals to the second copy's, which never registered twice", async () => {
    const errors: string[] = [];
    diag.setLogger(
      {
        error: (msg: string) => errors.push(msg),
        warn() {},
        info() {},
        debug() {},
        verbose() {},
      },
      DiagLogLevel.ERROR,
    );
    const options = { exporter: 'memory', registerGlobal: true, activeContext: true } as const;
    const a = first.createOtelTracer({ ...options, serviceName: 'a' });
    const b = second.createOtelTracer({ ...options, serviceName: 'b' });
    try {
      assert.deepEqual(await globalsOf(a), {
        activeIsOurs: true,
        globalTracerExportsHere: true,
        globalPropagatorInjects: true,
      });
      await a.close();
      assert.deepEqual(await globalsOf(b), {
        activeIsOurs: true,
        globalTracerExportsHere: true,
        globalPropagatorInjects: true,
      });
    } finally {
      await Promise.all([a.close(), b.close()]);
      diag.disable();
    }
    assert.deepEqual(errors, []);
    // The last one closed: nothing of ours is left registered.
    assert.equal(trace.getTracer('x').startSpan('s').isRecording(), false);
  });
});
