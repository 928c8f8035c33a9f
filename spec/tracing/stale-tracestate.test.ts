/**
 * `injectHeaders` into headers that already hold a `tracestate` (a gateway forwarding the incoming
 * request's headers): when the injected `traceparent` has no `tracestate` of its own, the one in
 * the carrier belongs to another trace, or is one the tracer dropped as invalid, and must not go
 * out beside it (W3C Trace Context: the tracestate is the traceparent's). It used to stay.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Tracer } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { contextFromHeaders, injectHeaders, startSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/propagate-only.js';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const tracers: [string, () => Tracer][] = [
  ['otel', () => createOtelTracer({ exporter: 'memory' })],
  ['propagate-only', () => createPropagateOnlyTracer()],
  ['no-op', () => noopTracer],
];

describe('injectHeaders over forwarded headers: no stale tracestate', () => {
  for (const [name, make] of tracers) {
    it(`${name}: an invalid incoming tracestate (dropped on extract) is not forwarded, in a plain object, Headers or Map`, async () => {
      const app = createApp({ tracer: make() });
      const incoming = { traceparent: PARENT, tracestate: 'Bad Key=1', 'x-request-id': 'r1' };
      const ctx = contextFromHeaders(app.ctx, incoming);
      assert.ok(ctx.span, 'the traceparent is continued');
      const plain = injectHeaders(ctx, { ...incoming, Tracestate: 'Bad Key=1' } as Record<string, string>);
      assert.deepEqual(
        Object.keys(plain).filter((k) => k.toLowerCase() === 'tracestate'),
        [],
        JSON.stringify(plain),
      );
      assert.equal(plain['x-request-id'], 'r1');
      assert.match(plain.traceparent!, /^00-4bf92f3577b34da6a3ce929d0e0e4736-/);
      const headers = injectHeaders(ctx, new Headers(incoming));
      assert.equal(headers.get('tracestate'), null);
      assert.equal(headers.get('x-request-id'), 'r1');
      const map = injectHeaders(ctx, new Map(Object.entries({ ...incoming, TraceState: 'Bad Key=1' })));
      assert.deepEqual(
        [...map.keys()].filter((k) => k.toLowerCase() === 'tracestate'),
        [],
      );
      await app.close();
    });

    it(`${name}: a valid incoming tracestate goes on with its trace`, async () => {
      const app = createApp({ tracer: make() });
      const incoming = { traceparent: PARENT, tracestate: 'vendor=abc' };
      const ctx = contextFromHeaders(app.ctx, incoming);
      const out = injectHeaders(ctx, { ...incoming });
      assert.equal(out.tracestate, 'vendor=abc');
      await app.close();
    });
  }

  it('a new trace started by the service does not carry the forwarded tracestate of another trace', async () => {
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }) });
    const { ctx } = startSpan(app.ctx, 'job');
    const out = injectHeaders(ctx, {
      traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
      tracestate: 'other=1',
    });
    assert.doesNotMatch(out.traceparent!, /1111/);
    assert.equal(out.tracestate, undefined);
    await app.close();
  });
});
