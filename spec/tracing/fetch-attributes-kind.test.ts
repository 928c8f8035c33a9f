/**
 * A `Map`, `Set` or fetch `Headers` given as the `attributes` of `tracedFetch` or `traceHandler`:
 * their entries are not properties, so the spread into the span's attributes set nothing, and
 * neither said a word (`startSpan` drops such attributes with a warning naming their kind, and
 * `createOtelTracer` refuses them). `tracedFetch` now warns once per tracer and kind;
 * `traceHandler`, which checks its options at startup, refuses them with a ConfigError.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Logger } from '../../lib/core/contracts.js';
import { ConfigError } from '../../lib/core/errors.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    warnings,
    debug() {},
    info() {},
    warn(msg: string) {
      warnings.push(msg);
    },
    error() {},
    child: () => logger,
  };
  return logger as unknown as Logger & { warnings: string[] };
}

let server: Server;
let url = '';
before(async () => {
  server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

describe('tracedFetch attributes given as a collection', () => {
  it('a Map, Headers or Set gets one warning per tracer naming its kind; the call goes out with the HTTP attributes', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ serviceName: 'fetch-attrs', exporter: 'memory' });
    const app = createApp({ tracer, logger });
    try {
      const given = [
        new Map([['order.id', '42']]),
        new Map([['order.id', '43']]),
        new Headers({ 'order.id': '44' }),
        new Set(['order.id']),
      ];
      for (const attributes of given) {
        const res = await tracedFetch(app.ctx, url, {}, { attributes: attributes as never });
        assert.equal(await res.text(), 'ok');
      }
      assert.deepEqual(
        logger.warnings.filter((w) => w.includes('tracedFetch')),
        [
          'tracedFetch: option `attributes` must be an object of attributes ({ name: value }), got a Map: they are ignored',
          'tracedFetch: option `attributes` must be an object of attributes ({ name: value }), got a Headers: they are ignored',
          'tracedFetch: option `attributes` must be an object of attributes ({ name: value }), got a Set: they are ignored',
        ],
      );
      const spans = tracer.finishedSpans();
      assert.equal(spans.length, 4);
      for (const s of spans) {
        assert.equal(s.attributes['http.request.method'], 'GET');
        assert.equal(s.attributes['http.response.status_code'], 200);
        assert.equal(s.attributes['order.id'], undefined);
      }
      // A plain object still goes on the span, without a warning.
      await (await tracedFetch(app.ctx, url, {}, { attributes: { 'order.id': '45' } })).text();
      assert.equal(tracer.finishedSpans().at(-1)!.attributes['order.id'], '45');
      assert.equal(logger.warnings.filter((w) => w.includes('tracedFetch')).length, 3);
    } finally {
      await app.close();
    }
  });
});

describe('traceHandler attributes given as a collection', () => {
  it('a Map or Headers is a ConfigError naming the field and its kind, at startup', async () => {
    const tracer = createOtelTracer({ serviceName: 'handler-attrs', exporter: 'memory' });
    const app = createApp({ tracer });
    try {
      for (const [attributes, kind] of [
        [new Map([['tenant', 'a']]), 'Map'],
        [new Headers({ tenant: 'a' }), 'Headers'],
      ] as const) {
        assert.throws(
          () => traceHandler(app.ctx, (_c, _q, res) => res.end(), { attributes: attributes as never }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.equal(err.issues[0]?.path, 'attributes');
            assert.equal(err.issues[0]?.received, kind);
            assert.match(err.message, new RegExp(`attributes: must be a plain object, not a ${kind}`));
            return true;
          },
        );
      }
      // A plain object is taken, and reaches every server span of the handler.
      const handler = traceHandler(app.ctx, (_c, _q, res) => res.end('ok'), { attributes: { tenant: 'a' } });
      const srv = createServer(handler);
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      try {
        await new Promise<void>((resolve, reject) => {
          request({ host: '127.0.0.1', port: (srv.address() as { port: number }).port, path: '/' }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
            .on('error', reject)
            .end();
        });
      } finally {
        srv.closeAllConnections();
        srv.close();
      }
      const span = tracer.finishedSpans().find((s) => s.kind === 1);
      assert.equal(span?.attributes.tenant, 'a');
    } finally {
      await app.close();
    }
  });
});
