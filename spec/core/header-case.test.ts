/**
 * Header names ignore case. `contextFromHeaders` read a plain object only by lowercase names, so
 * one built by hand or taken from another source (an API gateway event, a message's headers)
 * with `Traceparent` lost the incoming trace without a word; `injectHeaders` into a `Map` holding
 * `TraceParent` kept it beside the new `traceparent`, and a request built from the map sent both.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Tracer } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { contextFromHeaders, injectHeaders, startSpan } from '../../lib/core/span.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const TP = `00-${TRACE}-00f067aa0ba902b7-01`;

const tracers: [string, () => Tracer, boolean][] = [
  ['otel (memory)', () => createOtelTracer({ exporter: 'memory' }), true],
  ['propagate-only', () => createPropagateOnlyTracer({}), true],
  ['no-op', () => noopTracer, false],
];

for (const [name, make, baggage] of tracers) {
  describe(`${name}: header names in any case`, () => {
    const app = createApp({ tracer: make() });
    after(() => app.close());

    it('contextFromHeaders reads a plain object whose names are not lowercase', () => {
      const headers = { Traceparent: TP, TraceState: 'k=v', Baggage: 'tenant=acme', 'Content-Type': 'x' };
      const ctx = contextFromHeaders(app.ctx, headers);
      assert.equal(ctx.span?.spanContext().traceId, TRACE);
      assert.equal(ctx.span?.spanContext().traceState, 'k=v');
      if (baggage) assert.deepEqual({ ...ctx.baggage }, { tenant: 'acme' });
      // the caller's object is not changed
      assert.deepEqual(Object.keys(headers), ['Traceparent', 'TraceState', 'Baggage', 'Content-Type']);
    });

    it('injectHeaders into a Map replaces a name given in another case', () => {
      const { ctx } = startSpan(contextFromHeaders(app.ctx, { traceparent: TP }), 'call');
      const out = new Map([
        ['TraceParent', `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`],
        ['Content-Type', 'x'],
      ]);
      injectHeaders(ctx, out);
      assert.deepEqual(
        [...out.keys()].filter((k) => k.toLowerCase() === 'traceparent'),
        ['traceparent'],
      );
      assert.match(out.get('traceparent') ?? '', new RegExp(`^00-${TRACE}-`));
      assert.equal(out.get('Content-Type'), 'x');
    });
  });
}
