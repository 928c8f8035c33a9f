/**
 * An adapter's own `logger` option takes the loggers `createApp` takes: a pino instance as it is,
 * and `console` (no `child`). The option was typed `Logger` (with `child`) and used as given: a
 * raw pino instance compiled (pino's `info(msg, ...args)` overload fits) and then dropped every
 * record's fields — pino takes them first — so "redis connection error" came without the error and
 * the tracer's "span attribute dropped" without the attribute. The adapters now apply
 * `adaptLogger`, as createApp does, once at construction (no per-call cost).
 *
 * Fails on the old code: the records below lack `error` / `key` (and this file did not compile:
 * `console` is no `Logger`).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createApp } from '../../lib/core/index.js';
import { withSpan } from '../../lib/core/span.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

/** A pino instance (with bindings of a child) writing its records into `lines`, synchronously. */
function pinoInto(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'debug' }, sink).child({ svc: 'orders' });
}

const bounded = async (until: () => boolean) => {
  for (let i = 0; i < 100 && !until(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('adapter logger options: a raw pino instance keeps each record’s fields', () => {
  it('createOtelTracer: the dropped attribute is named', async () => {
    const lines: Record<string, unknown>[] = [];
    const tracer = createOtelTracer({ serviceName: 't', exporter: 'memory', logger: pinoInto(lines) });
    const app = createApp({ tracer });
    try {
      withSpan(app.ctx, 'work', (_ctx, span) => {
        span.setAttributes({ 'order.items': { nested: true } as unknown as string });
      });
    } finally {
      await app.close();
    }
    const dropped = lines.find((l) => String(l.msg).startsWith('span attribute dropped'));
    assert.ok(dropped, JSON.stringify(lines));
    assert.equal(dropped.key, 'order.items', JSON.stringify(dropped));
    assert.equal(dropped.svc, 'orders', 'the child logger’s bindings are kept');
  });

  it('createRedisCache: the connection error is in the record, the password is not', async () => {
    const lines: Record<string, unknown>[] = [];
    // Nothing listens on port 1.
    const cache = createRedisCache({
      addresses: ['127.0.0.1:1'],
      password: 'hunter2-secret',
      commandTimeout: 200,
      logger: pinoInto(lines),
    });
    try {
      await cache.get('k').catch(() => {});
      await bounded(() => lines.length > 0);
    } finally {
      await cache.close();
    }
    const rec = lines.find((l) => l.msg === 'redis connection error');
    assert.ok(rec, JSON.stringify(lines));
    assert.match(String(rec.error), /ECONNREFUSED/, JSON.stringify(rec));
    assert.equal(rec.component, 'cache');
    assert.equal(rec.svc, 'orders');
    assert.doesNotMatch(JSON.stringify(lines), /hunter2-secret/);
  });

  it('createMetrics: a failed collect callback names its error', async () => {
    const lines: Record<string, unknown>[] = [];
    const metrics = createMetrics({ logger: pinoInto(lines) });
    try {
      metrics.onCollect(() => {
        throw new Error('queue depth unreadable');
      });
      await metrics.render();
    } finally {
      await metrics.close?.();
    }
    const rec = lines.find((l) => l.msg === 'a metrics collect callback failed');
    assert.ok(rec, JSON.stringify(lines));
    assert.match(JSON.stringify(rec.error), /queue depth unreadable/, JSON.stringify(rec));
  });

  it('console (no child) is typed and taken by the adapters as createApp takes it', async () => {
    const cache = createRedisCache({ addresses: ['127.0.0.1:1'], minIdleConns: 0, logger: console });
    await cache.close();
    const tracer = createOtelTracer({ serviceName: 't', exporter: 'memory', logger: console });
    await tracer.close?.();
  });
});
