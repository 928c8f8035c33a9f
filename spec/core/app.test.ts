import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { closeOnSignals, createApp } from '../../lib/core/app.js';
import type { Cache, Tracer } from '../../lib/core/contracts.js';
import { createDisposerStack } from '../../lib/core/disposers.js';
import { CloseError, ConfigError, HyperionError } from '../../lib/core/errors.js';
import { createNoopCache, noopLogger, noopMetrics, noopTracer } from '../../lib/core/noop.js';
import { deferred, within } from '../harness/clock.js';

describe('disposer stack', () => {
  it('runs disposers in reverse order of registration, once', async () => {
    const order: string[] = [];
    const stack = createDisposerStack();
    for (const name of ['a', 'b', 'c']) stack.add(name, () => void order.push(name));
    await stack.dispose();
    await stack.dispose();
    assert.deepEqual(order, ['c', 'b', 'a']);
    assert.equal(stack.disposed, true);
  });

  it('keeps running after a failure and reports every failure in one AggregateError', async () => {
    const ran: string[] = [];
    const stack = createDisposerStack();
    stack.add('first', () => void ran.push('first'));
    stack.add('bad1', () => {
      throw new Error('one');
    });
    stack.add('bad2', async () => {
      throw new Error('two');
    });
    stack.add('last', () => void ran.push('last'));
    const err = await stack.dispose().then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AggregateError);
    assert.equal(err.errors.length, 2);
    assert.deepEqual(
      err.errors.map((e: Error) => (e.cause as Error).message),
      ['two', 'one'],
    );
    // Each failure is a typed error naming its disposer, as every error Hyperion throws.
    for (const e of err.errors) {
      assert.ok(e instanceof HyperionError);
      assert.equal(e.code, 'dispose_failed');
    }
    assert.deepEqual(
      err.errors.map((e: Error) => e.message),
      ['disposer "bad2" failed', 'disposer "bad1" failed'],
    );
    assert.deepEqual(ran, ['last', 'first']);
  });

  it("app.close()'s failure carries a code like every Hyperion error (a bare AggregateError had none)", async () => {
    const app = createApp({
      components: {
        db: {
          close() {
            throw new Error('db down');
          },
        },
      },
      disposeTimeoutMs: 1000,
    });
    const err = await app.close().then(
      () => assert.fail('should reject'),
      (e: unknown) => e as CloseError,
    );
    assert.ok(err instanceof AggregateError);
    assert.ok(err instanceof CloseError);
    assert.equal(err.code, 'close_failed');
    // Which part failed is in the message itself, for a logger that prints only the message.
    assert.equal(err.message, '1 disposer(s) failed during close: "db"');
    assert.equal(err.errors.length, 1);
    assert.equal((err.errors[0] as HyperionError).code, 'dispose_failed');
    // A second close shares the first run: the same error.
    assert.equal(await app.close().catch((e: unknown) => e), err);
  });

  it('bounds each disposer by the timeout and moves on', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const ran: string[] = [];
      const stack = createDisposerStack({ timeoutMs: 1000 });
      stack.add('after-hang', () => void ran.push('after-hang'));
      stack.add('hangs', () => new Promise(() => {}));
      const closing = stack.dispose().catch((e: AggregateError) => e);
      // Let the first disposer start, then move the clock past its bound.
      await new Promise((r) => setImmediate(r));
      mock.timers.tick(1000);
      const err = (await closing) as AggregateError;
      assert.ok(err instanceof AggregateError);
      assert.match(String(err.errors[0].message), /"hangs" did not finish within 1000 ms/);
      assert.equal(err.errors[0].code, 'timeout');
      assert.deepEqual(ran, ['after-hang']);
    } finally {
      mock.timers.reset();
    }
  });

  it('shares one run between concurrent dispose() calls', async () => {
    let calls = 0;
    const release = deferred();
    const stack = createDisposerStack();
    stack.add('slow', async () => {
      calls++;
      await release.promise;
    });
    const [p1, p2, p3] = [stack.dispose(), stack.dispose(), stack.dispose()];
    assert.equal(p1, p2);
    assert.equal(p2, p3);
    release.resolve();
    await p1;
    assert.equal(calls, 1);
  });

  it('disposes at once what is registered after dispose started', async () => {
    const stack = createDisposerStack();
    await stack.dispose();
    let ran = false;
    stack.add('late', () => {
      ran = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(ran, true);
  });
});

describe('disposer stack: odd disposers', () => {
  it('a disposer rejecting with undefined is a dispose_failed naming it, not a bare undefined', async () => {
    const stack = createDisposerStack();
    stack.add('quiet', () => Promise.reject(undefined));
    const err = await stack.dispose().then(
      () => assert.fail('dispose must reject'),
      (e: AggregateError) => e,
    );
    assert.equal(err.errors.length, 1);
    const [entry] = err.errors as HyperionError[];
    assert.ok(entry instanceof HyperionError, `got ${String(entry)}`);
    assert.equal(entry.code, 'dispose_failed');
    assert.match(entry.message, /"quiet"/);
    assert.equal(entry.cause, undefined);
  });

  it('app.defer refuses a disposer that is not a function at once, not at close', async () => {
    const app = createApp();
    const pool = { end: () => {} } as unknown as { close: () => void };
    assert.throws(
      () => app.defer('db', pool.close),
      (e: ConfigError) => e instanceof ConfigError && e.issues.some((i) => i.path === 'fn'),
    );
    assert.throws(
      () => app.defer(7 as unknown as string, () => {}),
      (e: ConfigError) => e instanceof ConfigError && e.issues.some((i) => i.path === 'name'),
    );
    await app.close();
  });

  it('a disposer that awaits app.close() (a shutdown helper) does not wait for itself until its timeout', async () => {
    const app = createApp({ disposeTimeoutMs: 3000 });
    const order: string[] = [];
    app.defer('first', () => void order.push('first'));
    const shutdown = async () => {
      await app.close();
      order.push('helper done');
    };
    app.defer('worker', async () => {
      order.push('worker');
      await shutdown();
    });
    // It waited for the close it was part of: stuck 3 s, then a TimeoutError for "worker".
    await within(app.close(), 1500, 'app.close() with a disposer awaiting it');
    assert.deepEqual(order, ['worker', 'helper done', 'first']);
  });

  it('the warning for a failed late disposer says what it threw', async () => {
    const stack = createDisposerStack();
    await stack.dispose();
    const warned = deferred<Error>();
    const onWarning = (w: Error) => {
      if (w.name === 'HyperionDisposeWarning') warned.resolve(w);
    };
    process.on('warning', onWarning);
    try {
      stack.add('late', () => {
        throw new Error('socket already gone');
      });
      const w = await within(warned.promise, 5000, 'the HyperionDisposeWarning');
      assert.equal(w.message, 'disposer "late" failed: socket already gone');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('createApp', () => {
  it('falls back to no-ops for everything not given', () => {
    const app = createApp();
    assert.equal(app.ctx.tracer, noopTracer);
    assert.equal(app.ctx.metrics, noopMetrics);
    assert.equal(app.ctx.logger, noopLogger);
    assert.equal(app.ctx.cache.name, 'noop');
    assert.equal(app.ctx.span, undefined);
  });

  it('closes components in reverse order: extra components, cache, metrics, tracer, logger', async () => {
    const order: string[] = [];
    const closing = (name: string) => ({ close: async () => void order.push(name) });
    const cache: Cache = { ...createNoopCache(), ...closing('cache') };
    const tracer: Tracer = { ...noopTracer, ...closing('tracer') };
    const app = createApp({
      cache,
      tracer,
      metrics: { ...noopMetrics, ...closing('metrics') },
      logger: { ...noopLogger, ...closing('logger') },
      components: { db: closing('db'), plain: { notClosable: true } },
    });
    app.defer('server', () => void order.push('server'));
    assert.equal(app.closed, false);
    await app.close();
    assert.deepEqual(order, ['server', 'db', 'cache', 'metrics', 'tracer', 'logger']);
    assert.equal(app.closed, true);
    await app.close();
    assert.equal(order.length, 6, 'second close does nothing');
  });

  it('supports await using', async () => {
    let closed = false;
    {
      await using app = createApp({
        components: {
          thing: {
            close: async () => {
              closed = true;
            },
          },
        },
      });
      assert.ok(app.ctx);
    }
    assert.equal(closed, true);
  });

  it('exposes extra components on ctx', () => {
    const db = { query: () => 1 };
    const app = createApp({ components: { db } });
    assert.equal(app.ctx.components.db, db);
  });

  it('closeOnSignals closes the app on the signal and can be removed', async () => {
    let closed = 0;
    const didClose = deferred();
    const app = createApp({
      components: {
        x: {
          close: async () => {
            closed++;
            didClose.resolve();
          },
        },
      },
    });
    const baseline = process.listenerCount('SIGUSR2');
    const remove = closeOnSignals(app, { signals: ['SIGUSR2'], exit: false });
    assert.equal(process.listenerCount('SIGUSR2'), baseline + 1);
    process.emit('SIGUSR2', 'SIGUSR2');
    await within(didClose.promise, 5000, 'the app to close on SIGUSR2');
    assert.equal(closed, 1);
    remove();
    assert.equal(process.listenerCount('SIGUSR2'), baseline);
  });

  it('closeOnSignals ignores a signal repeated while closing (even with a logger that throws), then removes its handlers', async () => {
    const closing = deferred();
    const release = deferred();
    const warned: unknown[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(message: string, fields?: unknown) {
        warned.push([message, fields]);
        throw new Error('the log sink is gone');
      },
      error() {},
      child() {
        return logger;
      },
    };
    const app = createApp({
      logger,
      components: {
        x: {
          close: async () => {
            closing.resolve();
            await release.promise;
          },
        },
      },
    });
    const baseline = process.listenerCount('SIGUSR2');
    closeOnSignals(app, { signals: ['SIGUSR2'], exit: false });
    process.emit('SIGUSR2', 'SIGUSR2');
    await within(closing.promise, 5000, 'the close to begin');
    // Still listening while the close runs: with no listener, a real signal would kill the process.
    assert.equal(process.listenerCount('SIGUSR2'), baseline + 1);
    assert.doesNotThrow(() => process.emit('SIGUSR2', 'SIGUSR2'));
    assert.deepEqual(warned, [['closeOnSignals: already closing, signal ignored', { signal: 'SIGUSR2' }]]);
    release.resolve();
    await app.close();
    await within(
      (async () => {
        for (let i = 0; i < 100 && process.listenerCount('SIGUSR2') !== baseline; i++)
          await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      'the handlers to be removed',
    );
    assert.equal(process.listenerCount('SIGUSR2'), baseline);
  });

  it('closeOnSignals reports a failing close and sets exitCode', async () => {
    const app = createApp({ components: { x: { close: async () => Promise.reject(new Error('nope')) } } });
    const seen: unknown[] = [];
    const reported = deferred();
    closeOnSignals(app, {
      signals: ['SIGUSR2'],
      exit: false,
      onError: (e) => {
        seen.push(e);
        reported.resolve();
      },
    });
    process.emit('SIGUSR2', 'SIGUSR2');
    await within(reported.promise, 5000, 'the failed close to be reported');
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof AggregateError);
    assert.equal(process.exitCode, 1);
    process.exitCode = 0;
  });
});
