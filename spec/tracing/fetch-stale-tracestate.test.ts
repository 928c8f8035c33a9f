/**
 * `tracedFetch` with headers forwarded from the incoming request (a gateway): a `tracestate` among
 * them must not go out beside a `traceparent` that has none of its own — it belongs to another
 * trace, or is one the tracer dropped as invalid (W3C Trace Context: the tracestate is the
 * traceparent's). `injectHeaders` already removed it; `tracedFetch` merged its own headers and
 * kept the caller's `tracestate`.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Tracer } from '../../lib/core/contracts.js';
import { contextFromHeaders } from '../../lib/core/span.js';
import { tracedFetch } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/propagate-only.js';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const tracers: [string, () => Tracer][] = [
  ['otel', () => createOtelTracer({ exporter: 'memory' })],
  ['propagate-only', () => createPropagateOnlyTracer()],
];

describe('tracedFetch over forwarded headers: no stale tracestate', () => {
  for (const [name, make] of tracers) {
    it(`${name}: plain object, Headers, pairs and Request`, async () => {
      const seen: IncomingHttpHeaders[] = [];
      const server = createServer((req, res) => {
        seen.push(req.headers);
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const app = createApp({ tracer: make() });
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        // An invalid incoming tracestate (dropped on extract), forwarded with the other headers.
        const incoming = { traceparent: PARENT, tracestate: 'Bad Key=1', 'x-request-id': 'r1' };
        const ctx = contextFromHeaders(app.ctx, incoming);
        // A tracestate without any traceparent: the call starts a new trace.
        const orphan = { Tracestate: 'vendor=old', 'x-request-id': 'r2' };
        const calls: [typeof ctx, RequestInit | Request][] = [
          [ctx, { headers: incoming }],
          [ctx, { headers: new Headers(incoming) }],
          [ctx, { headers: Object.entries(incoming) }],
          [ctx, new Request(url, { headers: incoming })],
          [app.ctx, { headers: orphan }],
          [app.ctx, new Request(url, { headers: orphan })],
        ];
        for (const [c, init] of calls) {
          const res = init instanceof Request ? await tracedFetch(c, init) : await tracedFetch(c, url, init);
          await res.text();
        }
        assert.equal(seen.length, calls.length);
        for (const [i, h] of seen.entries()) {
          assert.equal(h.tracestate, undefined, `call ${i}: ${JSON.stringify(h)}`);
          assert.match(String(h.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
          assert.ok(h['x-request-id'], 'the other headers are sent');
        }
        for (const h of seen.slice(0, 4))
          assert.match(String(h.traceparent), /^00-4bf92f3577b34da6a3ce929d0e0e4736-/);
      } finally {
        await app.close();
        await new Promise((r) => server.close(r));
      }
    });
  }

  it('a valid incoming tracestate still goes on with its traceparent', async () => {
    let seen: IncomingHttpHeaders = {};
    const server = createServer((req, res) => {
      seen = req.headers;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }) });
    try {
      const incoming = { traceparent: PARENT, tracestate: 'vendor=ok' };
      const ctx = contextFromHeaders(app.ctx, incoming);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      await (await tracedFetch(ctx, url, { headers: incoming })).text();
      assert.equal(seen.tracestate, 'vendor=ok');
    } finally {
      await app.close();
      await new Promise((r) => server.close(r));
    }
  });
});
