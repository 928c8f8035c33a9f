/**
 * `createAppFromConfig(config, { logger })` takes the loggers `createApp` takes. It handed the
 * option to the adapters it builds as given: a pino instance (fields first) lost the fields of
 * every adapter record — the tracer's "span attribute dropped" said nothing of the attribute —
 * and a logger without `child` (`console`) made a Redis cache throw a TypeError while the app was
 * built. A value that is no logger at all is a ConfigError before anything is built.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createAppFromConfig, loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError, type Logger } from '../../lib/core/index.js';
import { withSpan } from '../../lib/core/span.js';

/** A pino instance writing its lines into `lines`, synchronously. */
function pinoInto(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

describe('createAppFromConfig: the logger option reaches the adapters in their shape', () => {
  it('a pino instance: an adapter record (the tracer dropping an attribute) keeps its fields', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pinoInto(lines);
    const app = await createAppFromConfig(loadConfigFromText('tracing: { exporter: memory }'), {
      logger: log as unknown as Logger,
    });
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
  });

  it('a logger without child (console-like): a Redis cache is built, and its records reach the logger with the fields of its child logger', async () => {
    const records: [string, string, unknown][] = [];
    const at = (level: string) => (message: string, fields?: unknown) => {
      records.push([level, message, fields]);
    };
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    // Nothing listens on port 1: the cache is built (it connects in the background) and closed.
    const app = await createAppFromConfig(
      loadConfigFromText('cache: { type: redis, addresses: ["127.0.0.1:1"], command_timeout: 200 }'),
      { logger: logger as unknown as Logger, disposeTimeoutMs: 5000 },
    );
    try {
      await app.cache.get('k').catch(() => {});
      // The connection error is logged by the cache, through its child logger (bounded wait).
      for (let i = 0; i < 60 && records.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await app.close();
    }
    const failed = records.find(([, message]) => message === 'redis connection error');
    assert.ok(failed, JSON.stringify(records));
    // The cache's child logger adds its fields to the record, as `child` does on a full Logger.
    assert.deepEqual(
      { ...(failed[2] as object), error: undefined },
      { component: 'cache', cache: 'redis', error: undefined },
    );
  });

  it('a value that is no logger is a ConfigError naming logger, before anything is built', async () => {
    await assert.rejects(
      createAppFromConfig(loadConfigFromText('cache: { type: redis, addresses: ["127.0.0.1:1"] }'), {
        logger: { info() {} } as unknown as Logger,
      }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.length === 1 &&
        e.issues[0]!.path === 'logger' &&
        /lacks debug, warn, error/.test(e.issues[0]!.message),
    );
  });
});
