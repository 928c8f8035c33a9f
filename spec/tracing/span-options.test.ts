/**
 * SpanOptions as a JavaScript caller (or options built away from the call) can get them wrong:
 * a misspelt key (`attribute:`), a kind in the wrong case (`'SERVER'`) or one that names an
 * `Object.prototype` member (`'constructor'`). They used to be lost silently, and the last one
 * made a function the span's kind. And a context of the caller's own whose `logger` getter throws
 * left the span started by `withSpan` open (never ended, never exported).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { AppContext } from '../../lib/core/context.js';
import type { Logger, SpanOptions } from '../../lib/core/contracts.js';
import { startSpan, withSpan } from '../../lib/core/span.js';
import { tracedFetch } from '../../lib/tracing/http.js';
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

const INTERNAL = 0;
const SERVER = 1;

describe('SpanOptions mistakes', () => {
  it('an unknown key is named in one warning per tracer, with the key meant; the span still starts', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    const typo = { attribute: { 'user.id': 7 } } as unknown as SpanOptions;
    for (let i = 0; i < 3; i++) withSpan(app.ctx, 'typo', () => undefined, typo);
    startSpan(app.ctx, 'typo2', { startime: 5 } as unknown as SpanOptions).span.end();
    const warned = logger.warnings.filter((w) => w.includes('span option'));
    assert.equal(warned.length, 2, warned.join('\n'));
    assert.match(warned[0]!, /`attribute` is not a SpanOptions field.*did you mean `attributes`/);
    assert.match(warned[1]!, /`startime`.*did you mean `startTime`/);
    assert.equal(tracer.finishedSpans().length, 4);
    await app.close();
  });

  it("options that are not an object ('server', an array) are named as such, not by their indices", async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    for (const options of ['server', ['server'], 42])
      withSpan(app.ctx, 'not-object', () => undefined, options as unknown as SpanOptions);
    assert.deepEqual(
      tracer.finishedSpans().map((s) => s.kind),
      [INTERNAL, INTERNAL, INTERNAL],
    );
    // It said "span option `0` is not a SpanOptions field" for the string and the array.
    assert.deepEqual(logger.warnings, [
      'tracing: span options must be an object, got string: they are ignored',
      'tracing: span options must be an object, got an array: they are ignored',
      'tracing: span options must be an object, got number: they are ignored',
    ]);
    await app.close();
  });

  it("a kind that is not one of the five ('SERVER', 'constructor') is warned about and the span is internal", async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    for (const kind of ['SERVER', 'constructor', 'SERVER'])
      withSpan(app.ctx, `k-${kind}`, () => undefined, { kind } as unknown as SpanOptions);
    withSpan(app.ctx, 'k-server', () => undefined, { kind: 'server' });
    assert.deepEqual(
      tracer.finishedSpans().map((s) => [s.name, s.kind]),
      [
        ['k-SERVER', INTERNAL],
        ['k-constructor', INTERNAL],
        ['k-SERVER', INTERNAL],
        ['k-server', SERVER],
      ],
    );
    const warned = logger.warnings.filter((w) => w.includes('span kind'));
    assert.equal(warned.length, 2, warned.join('\n'));
    assert.match(warned[0]!, /'SERVER' is not one of internal, server/);
    // The tracer itself, called directly: `Object.prototype` members are no kinds either.
    for (const kind of ['constructor', 'toString', '__proto__'])
      tracer.startSpan(`direct-${kind}`, { kind } as unknown as SpanOptions).end();
    for (const s of tracer.finishedSpans().filter((x) => x.name.startsWith('direct-')))
      assert.equal(s.kind, INTERNAL, `${s.name}: ${String(s.kind)}`);
    await app.close();
  });

  it('correct options warn about nothing', async () => {
    const logger = recordingLogger();
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }), logger });
    withSpan(app.ctx, 'ok', () => undefined, {
      kind: 'client',
      attributes: { a: 1 },
      startTime: Date.now(),
      root: true,
    });
    assert.deepEqual(logger.warnings, []);
    await app.close();
  });
});

describe('a context whose getter throws', () => {
  it('withSpan throws the error and the span it started is ended with it (it was left open)', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const boom = new Error('logger getter');
    const ctx = Object.create(app.ctx, {
      logger: {
        get() {
          throw boom;
        },
      },
      with: { value: (patch: object) => app.ctx.with(patch) },
    }) as AppContext;
    let ran = false;
    assert.throws(
      () =>
        withSpan(ctx, 'broken-ctx', () => {
          ran = true;
        }),
      boom,
    );
    assert.equal(ran, false);
    const spans = tracer.finishedSpans().filter((s) => s.name === 'broken-ctx');
    assert.equal(spans.length, 1, 'the span was ended');
    assert.equal(spans[0]!.status.code, 2);
    assert.equal(spans[0]!.status.message, 'logger getter');
    await app.close();
  });
});

describe('tracedFetch option mistakes', () => {
  it('an unknown key gets one warning naming the key meant, and attributes given as a string add nothing (with a warning)', async () => {
    // `attribute:` was lost silently, and `attributes: 'x'` became attribute `0`.
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    try {
      for (let i = 0; i < 2; i++)
        await (await tracedFetch(app.ctx, url, {}, { attribute: { a: 1 } } as never)).text();
      await (await tracedFetch(app.ctx, url, {}, { attributes: 'x' } as never)).text();
      const warned = logger.warnings.filter((w) => w.includes('tracedFetch'));
      assert.equal(warned.length, 2, warned.join('\n'));
      assert.match(warned[0]!, /`attribute` is not known.*did you mean `attributes`/);
      assert.match(
        warned[1]!,
        /`attributes` must be an object of attributes .*got a string: they are ignored/,
      );
      const spans = tracer.finishedSpans().filter((s) => s.kind === 2);
      assert.equal(spans.length, 3);
      assert.equal(spans[2]!.attributes['0'], undefined);
      assert.equal(spans[2]!.attributes['http.request.method'], 'GET');
    } finally {
      server.close();
      await app.close();
    }
  });

  it("options that are not an object (a span name alone, 'checkout') get one warning saying so, not one per index", async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    try {
      for (const options of ['checkout', 'checkout', 7])
        await (await tracedFetch(app.ctx, url, {}, options as never)).text();
      // It warned `option \`0\` is not known`, `\`1\``, … up to `\`7\``, and nothing for the number.
      assert.deepEqual(
        logger.warnings.filter((w) => w.includes('tracedFetch')),
        [
          'tracedFetch: options must be an object ({ name, attributes }), got string: they are ignored',
          'tracedFetch: options must be an object ({ name, attributes }), got number: they are ignored',
        ],
      );
      const spans = tracer.finishedSpans();
      assert.deepEqual(
        spans.map((s) => s.name),
        ['GET', 'GET', 'GET'],
      );
    } finally {
      server.close();
      await app.close();
    }
  });
});

describe('setStatus with a code that is not one of the three', () => {
  it("a code naming an Object.prototype member ('constructor') is ignored like any unknown code (it set a function)", async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    for (const code of ['constructor', 'toString', '__proto__', 'ERROR']) {
      const span = tracer.startSpan(`status-${code}`);
      span.setStatus({ code } as never);
      span.end();
    }
    for (const s of tracer.finishedSpans())
      assert.equal(s.status.code, 0, `${s.name}: ${String(s.status.code)}`);
    await tracer.close();
  });

  it("a code in the wrong case ('ERROR'), a numeric one or a string for the status change nothing, with one warning per tracer and code naming what is meant", async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    for (const code of ['ERROR', 'ERROR', 'Ok', 'constructor', 2]) {
      const span = tracer.startSpan(`status-${code}`);
      span.setStatus({ code, message: 'secret-free' } as never);
      span.end();
    }
    const str = tracer.startSpan('status-string');
    str.setStatus('error' as never);
    str.end();
    const ok = tracer.startSpan('status-error');
    ok.setStatus({ code: 'error' });
    ok.end();
    assert.deepEqual(
      tracer.finishedSpans().map((s) => s.status.code),
      [0, 0, 0, 0, 0, 0, 2],
    );
    const warned = logger.warnings.filter((w) => w.includes('span status'));
    assert.equal(warned.length, 5, warned.join('\n'));
    assert.match(warned[0]!, /'ERROR' is not one of unset, ok, error.*did you mean 'error'/);
    assert.match(warned[1]!, /'Ok'.*did you mean 'ok'/);
    assert.match(warned[2]!, /'constructor' is not one of/);
    assert.match(warned[3]!, /number is not one of.*not OpenTelemetry's numeric SpanStatusCode/);
    assert.match(warned[4]!, /status 'error' is not one of.*setStatus takes \{ code: 'error', message\? \}/);
    await tracer.close();
  });
});
