/**
 * The `instrument()` middleware records when the response finishes, inside the response's event
 * listeners: an error thrown there is an uncaught exception that ends the server process. A route
 * function with a bug (`router.match(url).template` on an unmatched URL) or one returning a
 * non-string must cost a metric label, never the process.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { describe, it } from 'node:test';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

async function serve(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('prometheus metrics: instrument() never throws from a response listener', () => {
  const routes: [string, () => unknown][] = [
    [
      'throws (a router bug on an unmatched URL)',
      () => {
        throw new TypeError("Cannot read properties of undefined (reading 'template')");
      },
    ],
    ['returns an object', () => ({ template: '/x' })],
    ['returns a string with a lone surrogate', () => '/x\uD800'],
  ];
  for (const [what, route] of routes)
    it(`a route function that ${what}: the request is recorded as "unmatched", one warning, the server lives on`, async () => {
      const warnings: string[] = [];
      const m = createMetrics({ logger: { warn: (msg) => void warnings.push(msg) } });
      const server = createServer(
        m.instrument(
          (_req, res) => {
            res.end('ok');
          },
          { route: route as () => string },
        ),
      );
      const url = await serve(server);
      try {
        for (let i = 0; i < 3; i++) assert.equal((await fetch(url)).status, 200);
        // The listeners ran (finish precedes the client's end of body); give 'close' a turn too.
        await new Promise((r) => setImmediate(r));
        const body = (await m.render()).body;
        assert.match(
          body,
          /^http_server_request_duration_seconds_count\{[^}]*http_route="unmatched"[^}]*\} 3$/m,
        );
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.match(warnings[0]!, /route/);
      } finally {
        server.close();
        await m.close();
      }
    });

  it('a span function that throws: the request is still recorded (from its traceparent), one warning', async () => {
    // The span function ran inside the recording's try: a throw there lost the request's metric.
    const warnings: string[] = [];
    const m = createMetrics({ logger: { warn: (msg) => void warnings.push(msg) } });
    const server = createServer(
      m.instrument((_req, res) => void res.end('ok'), {
        route: '/x',
        span: () => {
          throw new Error('no span for this request');
        },
      }),
    );
    const url = await serve(server);
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    try {
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await fetch(url, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })).status,
          200,
        );
      await new Promise((r) => setImmediate(r));
      const om = (await m.render('application/openmetrics-text')).body;
      assert.match(om, /^http_server_request_duration_seconds_count\{[^}]*http_route="\/x"[^}]*\} 3$/m);
      assert.match(om, new RegExp(`# \\{trace_id="${trace}"\\}`), 'the exemplar comes from the traceparent');
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /span function threw/);
    } finally {
      server.close();
      await m.close();
    }
  });

  it('a span whose spanContext() throws, or a value that is no span: the request is recorded (exemplar from its traceparent), no warning', async () => {
    // Such a span threw out of the recording: the request's metric was lost, with one warning.
    const warnings: string[] = [];
    const m = createMetrics({ logger: { warn: (msg) => void warnings.push(msg) } });
    const spans: unknown[] = [
      {
        spanContext: () => {
          throw new Error('span already ended');
        },
      },
      { spanContext: () => null },
      {},
      'req-1',
    ];
    let i = 0;
    const server = createServer(
      m.instrument((_req, res) => void res.end('ok'), { route: '/x', span: () => spans[i] as never }),
    );
    const url = await serve(server);
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    try {
      for (i = 0; i < spans.length; i++)
        assert.equal(
          (await fetch(url, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })).status,
          200,
        );
      await new Promise((r) => setImmediate(r));
      const om = (await m.render('application/openmetrics-text')).body;
      assert.match(om, /^http_server_request_duration_seconds_count\{[^}]*http_route="\/x"[^}]*\} 4$/m);
      assert.match(om, new RegExp(`# \\{trace_id="${trace}"\\}`), 'the exemplar comes from the traceparent');
      assert.deepEqual(warnings, []);
    } finally {
      server.close();
      await m.close();
    }
  });

  it('options instrument() cannot use are MetricsError invalid_option when wrapping, not a warning per request', () => {
    const warnings: string[] = [];
    const m = createMetrics({ logger: { warn: (msg) => void warnings.push(msg) } });
    const ok = (_req: unknown, res: { end(s: string): void }) => void res.end('ok');
    const refused = (handler: unknown, options: unknown, hint: RegExp) =>
      assert.throws(
        () => m.instrument(handler as never, options as never),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_option' && hint.test(e.message),
      );
    // instrument(handler), as the http2 line of the README read: a TypeError destructuring undefined.
    refused(ok, undefined, /options must be \{ route \}/);
    // Taken before, then every request recorded as "unmatched" (or without its span), warned as
    // "the route function threw".
    refused(ok, { rout: '/users/:id' }, /rout is not a known option; did you mean `route`/);
    refused(ok, {}, /route must be the route template/);
    refused(ok, { route: 5 }, /route must be .*received number/);
    refused(ok, { route: '/x', span: 'x' }, /span must be a function/);
    // A handler that is not a function threw in every request.
    refused(undefined, { route: '/x' }, /handler must be a function/);
    assert.deepEqual(warnings, []);
    // What is right is still taken.
    m.instrument(ok as never, { route: '/x' });
    m.instrument(ok as never, { route: () => undefined, span: () => undefined });
  });
});
