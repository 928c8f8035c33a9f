/**
 * Options and OTEL_* variables that used to pass validation and fail later, or fail naming the
 * wrong thing (session-5 audit): export headers no HTTP request can carry, and batch variables out
 * of range reported under the option's name instead of the variable's.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { parseConfig } from '../../lib/config/index.js';
import { createApp } from '../../lib/core/app.js';
import { ConfigError } from '../../lib/core/errors.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { resolveOptions } from '../../lib/tracing/otel/options.js';
import { waitFor } from '../harness/process.js';

const throwsNaming = (fn: () => unknown, path: string, secret?: string) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(
      err.issues.some((i) => i.path === path),
      `issue for ${path}: ${err.message}`,
    );
    if (secret !== undefined) assert.ok(!err.message.includes(secret), `no secret in: ${err.message}`);
    return true;
  });

describe('export headers are checked when the tracer is built', () => {
  it('a header name that is not an HTTP token, or a value with a control character, is a ConfigError naming it', () => {
    // A name that is no token shows up to its first non-token character only.
    throwsNaming(() => resolveOptions({ headers: { 'bad header': '1' } }, {}), 'headers.bad…');
    throwsNaming(() => resolveOptions({ headers: { 'x-key': 'a\nsekrit' } }, {}), 'headers.x-key', 'sekrit');
    throwsNaming(() => resolveOptions({ headers: { 'x-key': 'a\u0000b' } }, {}), 'headers.x-key');
    // Before: accepted, then every otlp export failed, and every zipkin export hung until the
    // 30 s export timeout (the queue filling behind it).
    throwsNaming(
      () => createOtelTracer({ exporter: 'zipkin', headers: { 'bad header': '1' } }),
      'headers.bad…',
    );
    // Tabs, spaces and Latin-1 bytes are valid in a value.
    assert.deepEqual(resolveOptions({ headers: { 'x-a': 'Bearer a\tb é' } }, {}).headers, {
      'x-a': 'Bearer a\tb é',
    });
  });

  // Found from outside: a whole header line pasted as the key (for `authorization`) printed the
  // token in the ConfigError's path and message.
  it('a header line pasted as the name: the error shows the name part, never the credential', () => {
    const token = 'tok-3f9a1c77e2';
    for (const name of [
      `authorization: Bearer ${token}`,
      `authorization=Bearer ${token}`,
      `x-api-key:${token}`,
    ])
      for (const value of ['', 42])
        assert.throws(
          () => createOtelTracer({ exporter: 'otlp', headers: { [name]: value as string } }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError, String(err));
            const shown = `${err.message} ${JSON.stringify(err.issues)}`;
            assert.ok(!shown.includes(token), `token shown: ${err.message}`);
            assert.ok(
              err.issues.some((i) => /^headers\.(authorization|x-api-key)…$/.test(i.path)),
              err.message,
            );
            return true;
          },
        );
  });

  it('OTEL_EXPORTER_OTLP_HEADERS with such a header names the variable, never the value', () => {
    throwsNaming(
      () => resolveOptions({}, { OTEL_EXPORTER_OTLP_HEADERS: 'x-key=a%0Asekrit' }),
      'OTEL_EXPORTER_OTLP_HEADERS',
      'sekrit',
    );
    throwsNaming(
      () => resolveOptions({}, { OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'bad%20name=1' }),
      'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    );
  });
});

describe('OTEL_BSP_* out of range names the variable', () => {
  it('a delay or timeout beyond the timer range, a batch larger than the queue', () => {
    throwsNaming(
      () => resolveOptions({}, { OTEL_BSP_SCHEDULE_DELAY: '99999999999' }),
      'OTEL_BSP_SCHEDULE_DELAY',
    );
    throwsNaming(
      () => resolveOptions({}, { OTEL_BSP_EXPORT_TIMEOUT: '99999999999' }),
      'OTEL_BSP_EXPORT_TIMEOUT',
    );
    throwsNaming(
      () => resolveOptions({}, { OTEL_EXPORTER_OTLP_TIMEOUT: '99999999999' }),
      'OTEL_EXPORTER_OTLP_TIMEOUT',
    );
    throwsNaming(
      () => resolveOptions({}, { OTEL_BSP_MAX_QUEUE_SIZE: '99999999999' }),
      'OTEL_BSP_MAX_QUEUE_SIZE',
    );
    throwsNaming(
      () => resolveOptions({}, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '5000' }),
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    );
    throwsNaming(
      () => resolveOptions({}, { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' }),
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    );
    // A queue size in code makes the variable's batch size fit or not.
    throwsNaming(
      () => resolveOptions({ batch: { maxQueueSize: 50 } }, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100' }),
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    );
    assert.equal(
      resolveOptions({ batch: { maxQueueSize: 5000 } }, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4000' }).batch
        .maxExportBatchSize,
      4000,
    );
    // Only a queue size from the variable: the default batch shrinks to it (unchanged).
    assert.equal(resolveOptions({}, { OTEL_BSP_MAX_QUEUE_SIZE: '100' }).batch.maxExportBatchSize, 100);
  });
});

describe('tracer close() budget', () => {
  it('a budget that is not a number of ms ≥ 0 is a ConfigError and closes nothing (it dropped every queued span)', async (t) => {
    let received = 0;
    const collector = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    t.after(() => {
      collector.closeAllConnections();
      collector.close();
    });
    const tracer = createOtelTracer({
      serviceName: 'close-budget',
      endpoint: `http://127.0.0.1:${(collector.address() as { port: number }).port}/v1/traces`,
      batch: { scheduledDelayMillis: 60_000 },
    });
    for (let i = 0; i < 10; i++) tracer.startSpan(`s${i}`).end();
    for (const bad of [{ timeoutMs: Number.NaN }, { timeoutMs: -1 }, { timeoutMs: '100' }, null])
      await assert.rejects(tracer.close(bad as never), (e: Error & { issues?: { path: string }[] }) => {
        assert.equal(e.name, 'ConfigError');
        return true;
      });
    assert.equal(tracer.exportStats().lostSpans, 0);
    await tracer.close({ timeoutMs: 5000 });
    assert.equal(tracer.exportStats().exportedSpans, 10);
    assert.equal(received, 1);
  });
});

describe('traceHandler and createOtelTracer arguments of the wrong type', () => {
  it('traceHandler with a handler that is not a function is a ConfigError at startup, not a 500 per request', () => {
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }) });
    const routes: Record<string, unknown> = {};
    for (const handler of [routes['/missing'], null, 'handler', {}])
      throwsNaming(() => traceHandler(app.ctx, handler as never), 'handler');
  });

  it('traceHandler options with a misspelt key, a route that is not a non-empty string or attributes that are not an object are a ConfigError at startup', () => {
    // They were taken silently: `rout:` lost http.route on every span, `route: 42` recorded a number.
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }) });
    const h = (_ctx: unknown, _req: unknown, res: { end(): void }) => res.end();
    throwsNaming(() => traceHandler(app.ctx, h, { rout: '/x' } as never), 'rout');
    assert.throws(() => traceHandler(app.ctx, h, { rout: '/x' } as never), /did you mean `route`/);
    for (const route of [42, '', null])
      throwsNaming(() => traceHandler(app.ctx, h, { route } as never), 'route');
    for (const attributes of ['x', [1], null])
      throwsNaming(() => traceHandler(app.ctx, h, { attributes } as never), 'attributes');
    throwsNaming(() => traceHandler(app.ctx, h, 'route' as never), 'options');
    // Valid ones, and keys present with undefined, are accepted.
    traceHandler(app.ctx, h, { route: '/users/:id', attributes: { a: 1 } });
    traceHandler(app.ctx, h, { route: undefined, attributes: undefined });
    traceHandler(app.ctx, h, {});
  });

  it('traceHandler with null options (JavaScript) serves as with none', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const server = createServer(
      traceHandler(app.ctx, (_ctx, _req, res) => void res.end('ok'), null as never),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    assert.equal(await res.text(), 'ok');
    await waitFor(() => tracer.finishedSpans().length > 0, { timeoutMs: 5000 });
    assert.equal(tracer.finishedSpans()[0]?.name, 'GET');
    server.close();
    await app.close();
  });

  it('createOtelTracer(null) is a ConfigError, as other factories give, not a TypeError', () => {
    for (const options of [null, 'otlp', []]) throwsNaming(() => createOtelTracer(options as never), '');
  });
});

describe('an endpoint URL with port 0 or an empty port', () => {
  // Node's HTTP client takes port 0 or an empty port as the scheme's default: spans went to port
  // 80 (443) without a word ("connect ECONNREFUSED 127.0.0.1:80" at best), while `host:0` was
  // already refused.
  const bad = [
    'http://127.0.0.1:0/v1/traces',
    'https://collector:0/v1/traces',
    'http://collector:00/v1/traces',
    'http://127.0.0.1:/v1/traces',
    'http://[::1]:/v1/traces',
    'http://user:pass@collector:?x=1',
  ];
  it('is a ConfigError naming the option, for every exporter that sends', () => {
    for (const endpoint of bad)
      for (const exporter of ['otlp', 'zipkin', 'jaeger'] as const)
        throwsNaming(() => resolveOptions({ exporter, endpoint }, {}), 'endpoint', 'pass');
  });
  it('names the OTEL_EXPORTER_*_ENDPOINT variable that gave it', () => {
    for (const endpoint of bad) {
      throwsNaming(
        () => resolveOptions({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint }),
        'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      );
      throwsNaming(
        () => resolveOptions({}, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint.replace(/\/v1\/traces$/, '') }),
        'OTEL_EXPORTER_OTLP_ENDPOINT',
      );
      throwsNaming(
        () => resolveOptions({ exporter: 'zipkin' }, { OTEL_EXPORTER_ZIPKIN_ENDPOINT: endpoint }),
        'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
      );
    }
  });
  it('a URL with a port, or with none (the default), is taken as before', () => {
    for (const [endpoint, url] of [
      ['http://127.0.0.1:4318/v1/traces', 'http://127.0.0.1:4318/v1/traces'],
      ['http://collector/v1/traces', 'http://collector/v1/traces'],
      ['https://[::1]/v1/traces', 'https://[::1]/v1/traces'],
      ['http://user:@collector/v1/traces', 'http://user@collector/v1/traces'],
      ['http://collector:80/v1/traces', 'http://collector/v1/traces'],
    ] as const) {
      assert.equal(resolveOptions({ endpoint }, {}).endpoint, url);
      assert.equal(resolveOptions({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint }).endpoint, url);
    }
  });
});

describe('an endpoint with a control character inside', () => {
  // The URL parser drops tabs and newlines anywhere: `http://local\nhost:4318` was taken as
  // localhost:4318 and `http://127.0.0.1:43\t18` as port 4318, without a word; other control
  // characters were percent-encoded into the path.
  const bad = [
    'http://local\nhost:4318/v1/traces',
    'http://127.0.0.1:43\t18/v1/traces',
    'http://127.0.0.1:4318/v1/tr\races',
    'http://127.0.0.1:4318/v1/traces\u0000x',
    'http://127.0.0.1:4318/v1/\u007ftraces',
    'local\thost:4318',
  ];
  it('is a ConfigError naming the option, for every exporter that sends', () => {
    for (const endpoint of bad)
      for (const exporter of ['otlp', 'zipkin', 'jaeger'] as const)
        throwsNaming(() => resolveOptions({ exporter, endpoint }, {}), 'endpoint');
  });
  it('names the config path and the OTEL_EXPORTER_*_ENDPOINT variable that gave it', () => {
    for (const endpoint of bad) {
      throwsNaming(() => parseConfig({ tracing: { exporter: 'otlp', endpoint } }), 'tracing.endpoint');
      if (!endpoint.startsWith('http')) continue;
      throwsNaming(
        () => resolveOptions({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint }),
        'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      );
      throwsNaming(
        () => resolveOptions({ exporter: 'zipkin' }, { OTEL_EXPORTER_ZIPKIN_ENDPOINT: endpoint }),
        'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
      );
    }
  });
  it('around the value they are trimmed, as spaces are', () => {
    for (const endpoint of [' http://127.0.0.1:4318/v1/traces\n', '\thttp://127.0.0.1:4318/v1/traces\r\n']) {
      assert.equal(resolveOptions({ endpoint }, {}).endpoint, 'http://127.0.0.1:4318/v1/traces');
      assert.equal(
        resolveOptions({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint }).endpoint,
        'http://127.0.0.1:4318/v1/traces',
      );
    }
  });
});
