/**
 * `ctx.with({ logger })` and `createContext({ logger })` take the loggers `createApp` takes — a
 * pino instance as it is (a request's `req.log` from pino-http), `console` — and adapt them as
 * `createApp` does. The logger was used as given: through pino, `ctx.logger.info('charging',
 * { orderId })` wrote the message without its fields (pino takes fields first), in a span or not;
 * `console` outside a span became `ctx.logger` itself, whose `child()` threw a TypeError.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import pino from 'pino';
import { createApp } from '../../lib/core/app.js';
import { createContext } from '../../lib/core/context.js';
import { createNoopCache, noopMetrics, noopTracer } from '../../lib/core/noop.js';
import { withSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

type Line = Record<string, unknown>;

function pinoInstance() {
  const lines: Line[] = [];
  const dest = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, dest) };
}

it('a pino instance given to ctx.with keeps each record its fields, outside and inside a span', async () => {
  const tracer = createOtelTracer({ exporter: 'memory' });
  const app = createApp({ tracer });
  try {
    const { lines, logger } = pinoInstance();
    app.ctx.with({ logger }).logger.info('outside', { orderId: 1 });
    await withSpan(app.ctx, 'charge', (ctx, span) => {
      ctx.with({ logger: logger.child({ request_id: 'r1' }) }).logger.info('inside', { orderId: 2 });
      const ids = span.spanContext();
      const inside = lines.find((l) => l.msg === 'inside');
      assert.equal(inside?.trace_id, ids.traceId);
      assert.equal(inside?.request_id, 'r1');
    });
    assert.deepEqual(
      lines.map((l) => [l.msg, l.orderId]),
      [
        ['outside', 1],
        ['inside', 2],
      ],
    );
  } finally {
    await app.close();
  }
});

it('createContext takes a pino instance as createApp does', () => {
  const { lines, logger } = pinoInstance();
  const ctx = createContext({ tracer: noopTracer, cache: createNoopCache(), metrics: noopMetrics, logger });
  ctx.logger.warn('low stock', { sku: 'a-1' });
  ctx.logger.child({ shop: 's' }).info('restocked', { sku: 'a-1' });
  assert.deepEqual(
    lines.map((l) => [l.msg, l.sku, l.shop]),
    [
      ['low stock', 'a-1', undefined],
      ['restocked', 'a-1', 's'],
    ],
  );
});

it('console given to ctx.with outside a span has child(), as app.logger has', () => {
  const app = createApp();
  const written: unknown[][] = [];
  const consoleLike = {
    debug: (...a: unknown[]) => void written.push(a),
    info: (...a: unknown[]) => void written.push(a),
    warn: (...a: unknown[]) => void written.push(a),
    error: (...a: unknown[]) => void written.push(a),
  };
  const logger = app.ctx.with({ logger: consoleLike }).logger;
  logger.child({ job: 'sync' }).info('started', { n: 1 });
  assert.deepEqual(written, [['started', { job: 'sync', n: 1 }]]);
});
