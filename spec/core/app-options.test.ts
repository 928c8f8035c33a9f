import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createDisposerStack } from '../../lib/core/disposers.js';
import { MAX_TIMER_MS } from '../../lib/core/options.js';

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

  for (const bad of [Number.NaN, -1, 0, MAX_TIMER_MS + 1, 3e9, '100' as unknown as number])
    it(`disposeTimeoutMs ${String(bad)} is refused (a timer beyond 2^31-1 ms fires after 1 ms: every async disposer "timed out" at once)`, () => {
      assert.throws(() => createApp({ disposeTimeoutMs: bad }), { name: 'ConfigError' });
      assert.throws(() => createDisposerStack({ timeoutMs: bad }), { name: 'ConfigError' });
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
});
