/**
 * What the Jaeger (thrift over HTTP) exporter's sender does not send of its endpoint is said at
 * creation: it posts to the URL's path alone (a gateway's `?api_key=…` is dropped) and sends basic
 * auth only with both a user name and a password (`https://<token>@host` sent none). Both were
 * silent, and every export was refused by a collector that needed them. Found from outside with a
 * loopback stand-in collector. Without a `logger` option they are process warnings (the jaeger
 * exporter's warnings went to the silent logger a tracer has until createApp gives it one). The exporter exists on the OpenTelemetry JS 2.x line only.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { Logger } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

function warnings(): { logger: Logger; warned: string[] } {
  const warned: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message: string) => {
      warned.push(message);
    },
    error() {},
    child: () => logger,
  };
  return { logger, warned };
}

describe('jaeger exporter endpoint', { skip: sdk.line !== 2 && 'the jaeger exporter is 2.x only' }, () => {
  it('warns that a query string and a lone user name are not sent, and sends what it says it does', async (t) => {
    const seen: { path: string | undefined; auth: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ path: req.url, auth: req.headers.authorization });
      req.resume();
      req.on('end', () => res.writeHead(202).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const send = async (endpoint: string) => {
      const { logger, warned } = warnings();
      const tracer = createOtelTracer({
        serviceName: 'jaeger-endpoint',
        exporter: 'jaeger',
        endpoint,
        logger,
      });
      tracer.startSpan('op').end();
      await tracer.flush();
      await tracer.close();
      return warned.join('\n');
    };

    const both = await send(`http://u:p@127.0.0.1:${port}/api/traces`);
    assert.equal(both, '');
    assert.deepEqual(seen.pop(), {
      path: '/api/traces',
      auth: `Basic ${Buffer.from('u:p').toString('base64')}`,
    });

    const query = await send(`http://127.0.0.1:${port}/api/traces?api_key=k`);
    assert.match(query, /posts to the endpoint's path only: its query string is not sent/);
    assert.doesNotMatch(query, /api_key|k$/);
    assert.deepEqual(seen.pop(), { path: '/api/traces', auth: undefined });

    const token = await send(`http://tok3n-only@127.0.0.1:${port}/api/traces`);
    assert.match(token, /basic auth only when the endpoint has both a user name and a password/);
    assert.doesNotMatch(token, /tok3n/);
    assert.deepEqual(seen.pop(), { path: '/api/traces', auth: undefined });
  });

  it('without a logger option, these warnings (and the custom-headers one) are process warnings', async (t) => {
    // The tracer gets createApp's logger only later: they went to the silent logger of creation.
    const warned: { code: unknown; message: string }[] = [];
    const onWarning = (w: Error & { code?: unknown }) => {
      if (w.name === 'HyperionTracingWarning') warned.push({ code: w.code, message: w.message });
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const tracer = createOtelTracer({
      serviceName: 'jaeger-endpoint',
      exporter: 'jaeger',
      endpoint: 'http://tok3n-only@127.0.0.1:9/api/traces?api_key=k',
      headers: { 'x-team': 'a' },
    });
    await tracer.close();
    // Process warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warned.map((w) => w.code),
      ['HYPERION_JAEGER_EXPORTER', 'HYPERION_JAEGER_EXPORTER', 'HYPERION_JAEGER_EXPORTER'],
    );
    const all = warned.map((w) => w.message).join('\n');
    assert.match(all, /cannot send custom headers/);
    assert.match(all, /query string is not sent/);
    assert.match(all, /both a user name and a password/);
    assert.doesNotMatch(all, /tok3n|api_key/);
  });

  it('without a logger option, the "installed exporter differs" warning is a process warning too', async (t) => {
    // An installed exporter of another shape (no `_sender` field), as a user with another version
    // would have: its module's export is swapped for a subclass and put back after the test. The
    // warning went to logger.warn — the silent logger of a tracer built without `logger`.
    const require = createRequire(new URL('../../lib/tracing/otel/sdk.ts', import.meta.url));
    const jaegerModule = require(
      require.resolve('@opentelemetry/exporter-jaeger').replace(/index\.js$/, 'jaeger.js'),
    ) as { JaegerExporter: new (config?: object) => object };
    const Original = jaegerModule.JaegerExporter;
    jaegerModule.JaegerExporter = class extends Original {
      constructor(config?: object) {
        super(config);
        delete (this as { _sender?: unknown })._sender;
      }
    };
    t.after(() => {
      jaegerModule.JaegerExporter = Original;
    });
    const warned: { code: unknown; message: string }[] = [];
    const onWarning = (w: Error & { code?: unknown }) => {
      if (w.name === 'HyperionTracingWarning') warned.push({ code: w.code, message: w.message });
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const tracer = createOtelTracer({
      serviceName: 'jaeger-endpoint',
      exporter: 'jaeger',
      endpoint: 'http://127.0.0.1:9/api/traces',
    });
    await tracer.close();
    // Process warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warned.map((w) => w.code),
      ['HYPERION_JAEGER_EXPORTER'],
    );
    assert.match(warned[0]!.message, /installed jaeger exporter differs/);
  });
});
