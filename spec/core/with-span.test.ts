/** withSpan ends its span whatever `fn` returns: here, a thenable whose `then` throws. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Span, Tracer } from '../../lib/core/contracts.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createConsoleLogger } from '../../lib/core/logger.js';
import { noopSpan, noopTracer } from '../../lib/core/noop.js';
import { startSpan, withSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

describe('withSpan: a thenable whose then() throws', () => {
  it('the error is recorded, the span ended and the error rethrown', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const boom = new Error('then exploded');
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: the point of the test
      then() {
        throw boom;
      },
    };
    assert.throws(() => withSpan(app.ctx, 'lazy', () => thenable), boom);
    const [span] = tracer.finishedSpans();
    assert.ok(span, 'the span was ended (exported)');
    assert.equal(span.name, 'lazy');
    assert.equal(span.status.code, 2);
    assert.deepEqual(
      span.events.map((e) => e.name),
      ['exception'],
    );
    await app.close();
  });
});

describe('withSpan: other thenables', () => {
  it("resolves to a thenable's value when its then() returns nothing, and ends the span once", async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    // A hand-made thenable: `await` adopts it, but its then() returns undefined, not a promise.
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: the point of the test
      then(resolve: (v: number) => void, reject: (e: unknown) => void) {
        resolve(5);
        reject(new Error('called after resolve: must be ignored'));
      },
    };
    const value = await withSpan(app.ctx, 'hand-made', () => thenable as PromiseLike<number>);
    assert.equal(value, 5, 'the value await would give');
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, 1);
    assert.equal(spans[0]?.status.code, 0, 'not an error: the late reject is ignored');
    assert.equal(spans[0]?.events.length, 0);
    await app.close();
  });

  it('a then() that throws after it settled: the value await gives, no error recorded', async () => {
    // `await` ignores a throw of `then` once it has called resolve (or reject): the thenable has
    // settled. withSpan threw it at once instead, and recorded an error on a span that succeeded.
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const settledThenThrows = (settle: 'resolve' | 'reject') => ({
      // biome-ignore lint/suspicious/noThenProperty: the point of the test
      then(resolve: (v: number) => void, reject: (e: unknown) => void) {
        if (settle === 'resolve') resolve(5);
        else reject('declined');
        throw new Error('thrown after settling: must be ignored');
      },
    });
    const awaited = await (settledThenThrows('resolve') as PromiseLike<number>);
    assert.equal(
      await withSpan(app.ctx, 'ok', () => settledThenThrows('resolve') as PromiseLike<number>),
      awaited,
    );
    await assert.rejects(
      async () => withSpan(app.ctx, 'declined', () => settledThenThrows('reject') as PromiseLike<number>),
      (e: unknown) => e === 'declined',
    );
    const spans = tracer.finishedSpans();
    assert.deepEqual(
      spans.map((s) => [s.name, s.status.code, s.events.map((e) => e.attributes?.['exception.message'])]),
      [
        ['ok', 0, []],
        ['declined', 2, ['declined']],
      ],
    );
    await app.close();
  });

  it('a then getter that throws: the error is recorded, the span ended and the error rethrown', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const boom = new Error('then getter');
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: the point of the test
      get then(): never {
        throw boom;
      },
    };
    assert.throws(() => withSpan(app.ctx, 'getter', () => thenable), boom);
    const [span] = tracer.finishedSpans();
    assert.equal(span?.name, 'getter', 'the span was ended (exported)');
    assert.equal(span?.status.code, 2);
    await app.close();
  });
});

describe('null from JavaScript callers', () => {
  it('startSpan(ctx, name, null) starts a span as with no options; ctx.with(null) changes nothing', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const { ctx, span } = startSpan(app.ctx, 'x', null as never);
    span.end();
    assert.equal(ctx.span, span);
    assert.equal(tracer.finishedSpans()[0]?.name, 'x');
    const same = ctx.with(null as never);
    assert.equal(same.span, span);
    assert.equal(same.logger, ctx.logger);
    await app.close();
  });
});

describe('a parent span whose spanContext() throws', () => {
  const broken = Object.assign(Object.create(noopSpan) as Span, {
    spanContext(): never {
      throw new Error('broken parent');
    },
  });

  it('no-op tracer: startSpan, withSpan and injectHeaders go on without a parent', () => {
    const app = createApp({});
    const ctx = app.ctx.with({ span: broken });
    const { span } = startSpan(ctx, 'child');
    assert.equal(span, noopSpan);
    assert.equal(
      withSpan(ctx, 'child', () => 42),
      42,
    );
    assert.equal(noopTracer.startSpan('x', { parent: broken }), noopSpan);
    const headers: Record<string, string> = {};
    noopTracer.inject(headers, { span: broken });
    assert.deepEqual(headers, {});
  });

  it('a tracer of another make that throws on it: startSpan retries without the parent, one warning on ctx.logger', () => {
    const lines: string[] = [];
    const calls: (Span | undefined)[] = [];
    const strict: Tracer = {
      startSpan(_name, options) {
        calls.push(options?.parent);
        options?.parent?.spanContext();
        return noopSpan;
      },
      inject() {},
      extract: () => ({ baggage: {} }),
    };
    const app = createApp({ tracer: strict, logger: createConsoleLogger({ write: (l) => lines.push(l) }) });
    const ctx = app.ctx.with({ span: broken });
    assert.equal(startSpan(ctx, 'a').span, noopSpan);
    assert.equal(
      withSpan(ctx, 'b', () => 'ok'),
      'ok',
    );
    assert.deepEqual(calls, [broken, undefined, broken, undefined]);
    assert.equal(lines.length, 1, lines.join(''));
    assert.match(lines[0]!, /spanContext\(\) throws/);
    // A tracer that throws for another reason still throws.
    const failing: Tracer = {
      ...strict,
      startSpan() {
        throw new Error('tracer bug');
      },
    };
    assert.throws(() => startSpan(createApp({ tracer: failing }).ctx, 'x'), /tracer bug/);
  });
});

/**
 * Options that are no object, as a JavaScript caller passes them (the kind itself, `'server'`; a
 * list). A string was warned about as its characters (`span option \`0\` is not a SpanOptions
 * field`), an array as its indexes and a number not at all. Found from outside
 * (/tmp/R5/span.mts). Fails on the old code: the warning names `0`, or there is none.
 */
describe('withSpan / startSpan: options that are not an object', () => {
  it('are ignored with one warning saying so, naming their type; fn still runs', async () => {
    const lines: string[] = [];
    const app = createApp({ logger: createConsoleLogger({ write: (l) => lines.push(l) }) });
    const bad = ['server', ['server'], 5] as unknown as Parameters<typeof withSpan>[3][];
    for (const options of [...bad, ...bad])
      assert.equal(
        withSpan(app.ctx, 'x', () => 7, options),
        7,
      );
    startSpan(app.ctx, 'y', 'client' as never).span.end();
    const warned = lines.map((l) => JSON.parse(l).msg as string);
    assert.deepEqual(warned, [
      'tracing: span options must be an object, got string: they are ignored',
      'tracing: span options must be an object, got an array: they are ignored',
      'tracing: span options must be an object, got number: they are ignored',
    ]);
    await app.close();
  });
});

describe('withSpan given a fn that is not a function', () => {
  it('throws a ConfigError naming fn before any span starts (it threw a raw TypeError and exported an error span)', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    for (const fn of [undefined, null, {}, 'handler']) {
      assert.throws(
        () => withSpan(app.ctx, 'op', fn as never),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.code === 'config_invalid' &&
          /^withSpan: the third argument \(fn\) is not a function/.test(e.message) &&
          e.issues[0]?.path === 'fn',
      );
    }
    await tracer.flush();
    assert.deepEqual(tracer.finishedSpans(), [], 'no span was started');
    await app.close();
  });
});
