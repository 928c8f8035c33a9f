import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeOnSignals, createApp } from '../../lib/core/app.js';
import { createDisposerStack } from '../../lib/core/disposers.js';
import { noopLogger, noopTracer } from '../../lib/core/noop.js';
import { MAX_TIMER_MS } from '../../lib/core/options.js';
import { deferred, tick, within } from '../harness/clock.js';

const noopTracerStartSpan = noopTracer.startSpan;

describe("createApp options are checked like the factories' options", () => {
  it('an unknown key (a typo: the cache silently became the no-op and was never closed) is a ConfigError with a suggestion', () => {
    let closed = false;
    const cache = {
      close: () => {
        closed = true;
      },
    };
    assert.throws(
      () => createApp({ cahce: cache } as never),
      (e: Error & { code?: string; issues?: { path: string; message: string }[] }) =>
        e.name === 'ConfigError' &&
        e.issues?.length === 1 &&
        e.issues[0]!.path === 'cahce' &&
        /did you mean `cache`\?/.test(e.issues[0]!.message),
    );
    assert.equal(closed, false);
  });

  it('a part that is not an implementation of its contract is a ConfigError naming each one (not a TypeError in the first handler that uses it)', async () => {
    const { createMemoryCache } = await import('../../lib/cache/memory/index.js');
    assert.throws(
      () =>
        createApp({
          cache: createMemoryCache as never,
          tracer: {} as never,
          metrics: Promise.resolve({}) as never,
          logger: 'debug' as never,
          components: 5 as never,
        }),
      (e: Error & { issues?: { path: string; message: string; received: string }[] }) => {
        assert.equal(e.name, 'ConfigError');
        assert.deepEqual(
          e.issues?.map((i) => `${i.path} (${i.received}): ${i.message}`),
          [
            'tracer (object): lacks startSpan, inject, extract',
            'cache (function): is a function: pass what it returns (e.g. createMemoryCache({...}), not createMemoryCache)',
            'metrics (object): is a promise: await it first',
            'logger (string): lacks debug, info, warn, error',
            'components (number): has the wrong type',
          ],
        );
        return true;
      },
    );
    // A cache missing part of the contract names what it lacks.
    const { get, set, delete: del, getOrSet } = createMemoryCache({ maxCost: 1024 });
    assert.throws(() => createApp({ cache: { get, set, delete: del, getOrSet } as never }), {
      name: 'ConfigError',
      message: /cache: lacks has, getMany, setMany, deleteMany, clear/,
    });
  });

  for (const bad of [null, [], 'cache', 5]) {
    it(`options ${JSON.stringify(bad)} is a ConfigError (null threw a TypeError, an array or a string was taken as {})`, () => {
      assert.throws(
        () => createApp(bad as never),
        (e: Error & { code?: string; issues?: { path: string }[] }) =>
          e.code === 'config_invalid' &&
          /options must be an object/.test(e.message) &&
          e.issues?.[0]?.path === '',
      );
    });
  }

  it('console (no child()) and full implementations are accepted', async () => {
    // No cast: `logger` is typed LoggerLike, so `console` compiles as the pages show it.
    const app = createApp({ logger: console });
    await app.close();
  });

  it('app.logger of a logger without child() has child() (its type says Logger), and its own close() is still called', async () => {
    // `app.logger` was the given object itself: `createApp({ logger: console }).logger.child(…)`
    // compiled (typed Logger) and threw a TypeError.
    const records: unknown[][] = [];
    let closed = 0;
    const logger = {
      debug: (...a: unknown[]) => records.push(a),
      info: (...a: unknown[]) => records.push(a),
      warn: (...a: unknown[]) => records.push(a),
      error: (...a: unknown[]) => records.push(a),
      close: async () => {
        closed += 1;
      },
    };
    const app = createApp({ logger });
    app.logger.child({ request: 'r1' }).info('handled', { status: 200 });
    assert.deepEqual(records, [['handled', { request: 'r1', status: 200 }]]);
    await app.close();
    assert.equal(closed, 1);
  });

  for (const bad of [Number.NaN, -1, 0, MAX_TIMER_MS + 1, 3e9, '100' as unknown as number])
    it(`disposeTimeoutMs ${String(bad)} is refused (a timer beyond 2^31-1 ms fires after 1 ms: every async disposer "timed out" at once)`, () => {
      assert.throws(() => createApp({ disposeTimeoutMs: bad }), { name: 'ConfigError' });
      assert.throws(() => createDisposerStack({ timeoutMs: bad }), { name: 'ConfigError' });
    });

  // Found from outside (/tmp/R5/app.mts): `{ timeout: 500 }` was ignored (every disposer got the
  // 10 s default) and `null` threw a TypeError. Fails on the old code: no ConfigError.
  it('createDisposerStack refuses an unknown option key (naming timeoutMs) and options that are not an object', () => {
    assert.throws(
      () => createDisposerStack({ timeout: 500 } as never),
      (err: Error & { issues?: unknown }) => {
        assert.equal(err.name, 'ConfigError');
        assert.match(err.message, /timeout: is not a known option; did you mean `timeoutMs`\?/);
        return true;
      },
    );
    for (const bad of [null, 'fast', [500]])
      assert.throws(() => createDisposerStack(bad as never), { name: 'ConfigError' });
    assert.equal(createDisposerStack({}).disposed, false);
  });

  for (const ok of [1, 10_000, MAX_TIMER_MS, Number.POSITIVE_INFINITY, undefined])
    it(`disposeTimeoutMs ${String(ok)} is accepted`, async () => {
      const app = createApp({ disposeTimeoutMs: ok });
      if (ok !== 1) app.defer('slow', () => new Promise((r) => setTimeout(r, 20)));
      await app.close();
    });
});

describe('createAppFromConfig options', () => {
  it('an unknown key or a bad disposeTimeoutMs is a ConfigError before anything is built', async () => {
    const { createAppFromConfig } = await import('../../lib/config/index.js');
    await assert.rejects(
      createAppFromConfig({}, { disposeTimeout: 5000 } as never),
      (e: Error & { issues?: { path: string; message: string }[] }) =>
        e.name === 'ConfigError' &&
        e.issues?.[0]?.path === 'disposeTimeout' &&
        /did you mean `disposeTimeoutMs`/.test(e.issues[0].message),
    );
    await assert.rejects(createAppFromConfig({}, { disposeTimeoutMs: 1e10 }), { name: 'ConfigError' });
    const app = await createAppFromConfig({}, { disposeTimeoutMs: 1000 });
    await app.close();
  });
});

describe('disposer failures name their disposer', () => {
  it('a disposer that rejects with a TimeoutError of its own is reported as that disposer failing (with the error as cause)', async () => {
    const { TimeoutError } = await import('../../lib/core/errors.js');
    const app = createApp({ disposeTimeoutMs: 5000 });
    const own = new TimeoutError('query timed out');
    app.defer('db', async () => {
      throw own;
    });
    const err = await app.close().then(
      () => assert.fail('close should reject'),
      (e: unknown) => e as AggregateError,
    );
    assert.equal(err.errors.length, 1);
    // Before: the TimeoutError came out as is, as if the stack's own timeout had fired, and the
    // report did not say which disposer failed.
    assert.equal((err.errors[0] as Error).message, 'disposer "db" failed');
    assert.equal((err.errors[0] as Error).cause, own);
  });
});

describe('createApp closes each component object once', () => {
  it('one object given under two names (or as a part and a component) is closed once', async () => {
    let ends = 0;
    // Like a pg Pool: a second end() throws ("Called end on pool more than once").
    const pool = {
      close: async () => {
        ends++;
        if (ends > 1) throw new Error('Called end on pool more than once');
      },
    };
    const app = createApp({ components: { db: pool, users: pool } });
    await app.close();
    assert.equal(ends, 1);
    let closes = 0;
    const metrics = {
      counter: () => ({ inc() {} }),
      gauge: () => ({ set() {}, inc() {}, dec() {} }),
      histogram: () => ({ observe() {}, startTimer: () => () => 0 }),
      onCollect: () => () => {},
      close: async () => {
        closes++;
      },
    };
    const app2 = createApp({ metrics, components: { metrics } });
    await app2.close();
    assert.equal(closes, 1);
  });

  it('a logger given as the logger and as a component is closed once, also one the app wraps (no child)', async () => {
    // The app's logger is the given one wrapped (a child() added, as for console): the component
    // was the given object, so the two were taken for two things and the logger closed twice.
    let closes = 0;
    const fileLogger = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      close: async () => {
        closes++;
        if (closes > 1) throw new Error('log file already closed');
      },
    };
    const app = createApp({ logger: fileLogger, components: { log: fileLogger } });
    assert.notEqual(app.logger, fileLogger, 'precondition: the app wraps a logger without child()');
    await app.close();
    assert.equal(closes, 1);
  });
});

describe('closeOnSignals arguments', () => {
  const signalListeners = () =>
    process.eventNames().reduce((n, e) => n + process.listenerCount(e as string), 0);

  const refused: [string, unknown, RegExp][] = [
    // A string instead of a list installed a listener per letter ('S', 'I', …): SIGTERM was never handled.
    ['a string instead of a list', { signals: 'SIGTERM' }, /signals/],
    // The nearest catchable signal is named, as the nearest option key is (it named none).
    [
      'a misspelt signal',
      { signals: ['SIGTREM'] },
      /"SIGTREM" is not a signal name; did you mean `SIGTERM`\?/,
    ],
    [
      'a signal in lower case',
      { signals: ['sigint'] },
      /"sigint" is not a signal name; did you mean `SIGINT`\?/,
    ],
    ['a signal name far from any', { signals: ['TERMINATE'] }, /"TERMINATE" is not a signal name$/],
    [
      'an uncatchable signal (installed SIGTERM first, then threw a raw EINVAL)',
      { signals: ['SIGTERM', 'SIGKILL'] },
      /SIGKILL cannot be caught/,
    ],
    ['an empty list', { signals: [] }, /non-empty/],
    ['a typo in a key', { sigals: ['SIGTERM'] }, /did you mean `signals`\?/],
    ['exit not a boolean', { exit: 'no' }, /exit/],
    ['onError not a function', { onError: 'log' }, /onError/],
  ];
  for (const [what, options, message] of refused)
    it(`${what} is a ConfigError, and no handler is installed`, () => {
      const app = createApp();
      const before = signalListeners();
      assert.throws(
        () => closeOnSignals(app, options as never),
        (e: Error & { issues?: { path: string; message: string }[] }) =>
          e.name === 'ConfigError' && e.issues!.some((i) => message.test(`${i.path} ${i.message}`)),
      );
      assert.equal(signalListeners(), before);
    });

  it('something that is not an app is a ConfigError', () => {
    assert.throws(() => closeOnSignals({} as never), { name: 'ConfigError', message: /closeOnSignals/ });
  });

  it('valid options install and remove their handlers', () => {
    const app = createApp();
    const before = process.listenerCount('SIGUSR2');
    const remove = closeOnSignals(app, { signals: ['SIGUSR2', 'SIGHUP'], exit: false, onError: () => {} });
    assert.equal(process.listenerCount('SIGUSR2'), before + 1);
    remove();
    assert.equal(process.listenerCount('SIGUSR2'), before);
  });

  it('a signal listed twice is handled once: one SIGUSR2 closes the app with no "already closing" warning', async () => {
    const warnings: string[] = [];
    const logger = { ...noopLogger, warn: (msg: string) => void warnings.push(msg) };
    const app = createApp({ logger });
    const closed = deferred<void>();
    app.defer('x', () => closed.resolve());
    const before = process.listenerCount('SIGUSR2');
    const remove = closeOnSignals(app, { signals: ['SIGUSR2', 'SIGUSR2'], exit: false });
    try {
      assert.equal(process.listenerCount('SIGUSR2'), before + 1);
      process.kill(process.pid, 'SIGUSR2');
      await within(closed.promise, 5000, 'the close on SIGUSR2');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      remove();
    }
  });

  it('an app-like object whose close() returns nothing, or throws at once, does not throw out of the signal listener', async () => {
    const saved = process.exitCode;
    try {
      let closed = 0;
      const before = process.listenerCount('SIGUSR2');
      const plain = { close: () => void closed++ };
      closeOnSignals(plain as never, { signals: ['SIGUSR2'], exit: false });
      // process.emit runs the listeners synchronously: a throw here is what a real signal turns
      // into an uncaught exception.
      assert.doesNotThrow(() => process.emit('SIGUSR2', 'SIGUSR2'));
      await tick();
      assert.equal(closed, 1);
      for (let i = 0; i < 50 && process.listenerCount('SIGUSR2') !== before; i++) await tick();
      assert.equal(process.listenerCount('SIGUSR2'), before, 'handlers removed once closed');
      assert.equal(process.exitCode, saved);

      const reported = deferred<unknown>();
      const failing = {
        close: () => {
          throw new Error('sync close');
        },
      };
      closeOnSignals(failing as never, { signals: ['SIGUSR2'], exit: false, onError: reported.resolve });
      assert.doesNotThrow(() => process.emit('SIGUSR2', 'SIGUSR2'));
      const err = await within(reported.promise, 5000, 'onError');
      assert.equal((err as Error).message, 'sync close');
      assert.equal(process.exitCode, 1);
    } finally {
      process.exitCode = saved;
    }
  });

  it('an onError that throws still sets the exit code, with no unhandled rejection', async () => {
    const app = createApp({ components: { x: { close: () => Promise.reject(new Error('nope')) } } });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const saved = process.exitCode;
    try {
      closeOnSignals(app, {
        signals: ['SIGUSR2'],
        exit: false,
        onError: () => {
          throw new Error('the reporter failed');
        },
      });
      process.emit('SIGUSR2', 'SIGUSR2');
      for (let i = 0; i < 50 && process.exitCode !== 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(process.exitCode, 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.exitCode = saved;
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('createApp hands its logger to the tracer (Tracer.useLogger)', () => {
  it('calls useLogger with the app logger when one is given, not without', () => {
    const received: unknown[] = [];
    const tracer = {
      startSpan: noopTracerStartSpan,
      inject() {},
      extract: () => ({ baggage: {} }),
      useLogger: (l: unknown) => void received.push(l),
    };
    createApp({ tracer });
    assert.deepEqual(received, []);
    const logger = { ...noopLogger, child: () => logger };
    const app = createApp({ tracer, logger });
    assert.equal(received.length, 1);
    assert.equal(received[0], app.logger);
    // A tracer without the hook (the contract makes it optional) is fine.
    assert.doesNotThrow(() =>
      createApp({
        tracer: { startSpan: noopTracerStartSpan, inject() {}, extract: () => ({ baggage: {} }) },
        logger,
      }),
    );
  });
});
