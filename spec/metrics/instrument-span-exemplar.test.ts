import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const OM_ACCEPT = 'application/openmetrics-text;version=1.0.0';
const HEADER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** The trace ids of the `/r` request latency exemplars in the OpenMetrics exposition. */
function exemplarTraceIds(body: string): string[] {
  return body
    .split('\n')
    .filter(
      (l) => l.startsWith('http_server_request_duration_seconds_bucket{') && l.includes('http_route="/r"'),
    )
    .flatMap((l) => [...l.matchAll(/# \{trace_id="([0-9a-f]{32})"\}/g)].map((m) => m[1]!));
}

// `metrics.instrument(traceHandler(…), { route })` with no `span` option (the README's wiring)
// took the exemplar from the `traceparent` header alone: a request that started its trace at this
// server had none, and one whose header the tracer's propagators do not read pointed at a trace
// its server span is not in. It now comes from the server span traceHandler started.
describe('instrument() around traceHandler: the exemplar is the server span’s trace', () => {
  for (const [name, propagators, headers] of [
    ['a request that starts its trace here', undefined, {}],
    [
      'a traceparent the tracer does not read (b3 only)',
      ['b3'],
      { traceparent: `00-${HEADER_TRACE}-00f067aa0ba902b7-01` },
    ],
  ] as const) {
    it(name, async () => {
      const m = createMetrics();
      const tracer = createOtelTracer({
        exporter: 'memory',
        ...(propagators ? { propagators: [...propagators] } : {}),
      });
      const app = createApp({ tracer, metrics: m });
      const traced = traceHandler(app.ctx, (_ctx, _req, res) => res.end('ok'), { route: '/r' });
      const server = createServer(m.instrument(traced, { route: '/r' }));
      try {
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const { port } = server.address() as AddressInfo;
        const res = await fetch(`http://127.0.0.1:${port}/r`, { headers });
        await res.text();
        // The span and the metric end on the response's 'close', just after the client has its
        // answer: a bounded wait for both.
        for (let i = 0; i < 400 && tracer.finishedSpans().length === 0; i++)
          await new Promise((r) => setTimeout(r, 5));
        let ids: string[] = [];
        for (let i = 0; i < 400 && ids.length === 0; i++) {
          ids = exemplarTraceIds((await m.render(OM_ACCEPT)).body);
          if (ids.length === 0) await new Promise((r) => setTimeout(r, 5));
        }
        const spans = tracer.finishedSpans();
        assert.equal(spans.length, 1);
        const traceId = spans[0]!.spanContext().traceId;
        assert.notEqual(traceId, HEADER_TRACE);
        assert.deepEqual(ids, [traceId]);
      } finally {
        await new Promise((r) => server.close(r));
        await app.close();
      }
    });
  }

  it('an unsampled server span gives no exemplar, whatever the header says', async () => {
    const m = createMetrics();
    const tracer = createOtelTracer({ exporter: 'memory', sampleRate: 0, propagators: ['b3'] });
    const app = createApp({ tracer, metrics: m });
    const traced = traceHandler(app.ctx, (_ctx, _req, res) => res.end('ok'), { route: '/r' });
    const server = createServer(m.instrument(traced, { route: '/r' }));
    try {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/r`, {
        headers: { traceparent: `00-${HEADER_TRACE}-00f067aa0ba902b7-01` },
      });
      await res.text();
      let body = '';
      for (let i = 0; i < 400 && !/http_route="\/r"/.test(body); i++) {
        body = (await m.render(OM_ACCEPT)).body;
        if (!/http_route="\/r"/.test(body)) await new Promise((r) => setTimeout(r, 5));
      }
      assert.match(body, /^http_server_request_duration_seconds_count\{[^}]*http_route="\/r"[^}]*\} 1$/m);
      assert.deepEqual(exemplarTraceIds(body), []);
    } finally {
      await new Promise((r) => server.close(r));
      await app.close();
    }
  });
});
