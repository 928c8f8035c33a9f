/**
 * Propagation with the carriers of fetch and undici: a WHATWG `Headers` (a fetch `Request`'s) or a
 * `Map`. They used to be read as plain objects — no `traceparent` property, so the incoming trace
 * was silently lost — and injection set properties on the `Headers` object that fetch never sends.
 * Checked with every built-in tracer, over a real loopback HTTP request.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Tracer } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { contextFromHeaders, injectHeaders } from '../../lib/core/span.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const TP = `00-${TRACE}-${SPAN}-01`;

let server: Server;
let url = '';
let received: IncomingHttpHeaders = {};

before(async () => {
  server = createServer((req, res) => {
    received = req.headers;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const tracers: [string, () => Tracer, boolean][] = [
  ['otel (memory)', () => createOtelTracer({ exporter: 'memory' }), true],
  ['otel (exporter none)', () => createOtelTracer({ exporter: 'none' }), true],
  ['propagate-only', () => createPropagateOnlyTracer({}), true],
  ['no-op', () => noopTracer, false],
];

for (const [name, make, baggage] of tracers) {
  describe(`${name}: Headers and Map carriers`, () => {
    const tracer = make();
    const app = createApp({ tracer });
    after(() => app.close());

    it("contextFromHeaders reads a fetch Request's Headers and a Map", () => {
      const request = new Request(url, { headers: { TraceParent: TP, baggage: 'tenant=acme' } });
      const ctx = contextFromHeaders(app.ctx, request.headers);
      assert.equal(ctx.span?.spanContext().traceId, TRACE);
      assert.equal(ctx.span?.spanContext().spanId, SPAN);
      if (baggage) assert.deepEqual({ ...ctx.baggage }, { tenant: 'acme' });
      const fromMap = contextFromHeaders(app.ctx, new Map([['traceparent', TP]]));
      assert.equal(fromMap.span?.spanContext().traceId, TRACE);
      // the tracer itself too (JavaScript callers)
      assert.equal(tracer.extract(request.headers as never).parent?.spanContext().traceId, TRACE);
    });

    it('injectHeaders writes into Headers that fetch sends, and into a Map', async () => {
      const ctx = contextFromHeaders(app.ctx, { traceparent: TP, baggage: 'tenant=acme' });
      const headers = injectHeaders(ctx, new Headers({ accept: 'text/plain' }));
      assert.ok(headers instanceof Headers);
      assert.equal(Object.keys(headers).length, 0, 'no properties set on the Headers object');
      await (await fetch(url, { headers })).text();
      assert.equal(received.traceparent, TP);
      assert.equal(received.accept, 'text/plain');
      if (baggage) assert.equal(received.baggage, 'tenant=acme');
      const map = injectHeaders(ctx, new Map<string, string>());
      assert.equal(map.get('traceparent'), TP);
      const direct = new Map<string, string>();
      tracer.inject(direct as never, { span: ctx.span, baggage: ctx.baggage });
      assert.equal(direct.get('traceparent'), TP);
    });

    it('a plain object holding the header in another case (Traceparent) has it replaced, not sent twice', async () => {
      // Kept next to ours, fetch joined both (`<theirs>, <ours>`): a traceparent receivers drop.
      const ctx = contextFromHeaders(app.ctx, { traceparent: TP });
      const stale = '00-11111111111111111111111111111111-2222222222222222-01';
      const headers = injectHeaders(ctx, { Traceparent: stale, 'Content-Type': 'text/plain' });
      assert.deepEqual(headers, { 'Content-Type': 'text/plain', traceparent: TP });
      await (await fetch(url, { headers })).text();
      assert.equal(received.traceparent, TP);
    });

    it('a Headers object the caller may not write (a Response) is a TypeError, not a silent loss', () => {
      const ctx = contextFromHeaders(app.ctx, { traceparent: TP });
      assert.throws(() => injectHeaders(ctx, Response.error().headers), TypeError);
    });
  });
}
