/**
 * An Error made in another realm (a `node:vm` context: a sandboxed plugin, a script run by a test
 * runner) in a record's fields. The README promises an `Error` in a record's fields is written as
 * its name, message, code, stack and cause; such an error is no `instanceof Error` here, and was
 * written as `{}` — by the JSON logger and through a pino instance alike — so the line said
 * something failed and never what. Found from outside (/tmp/R5/log.mts). Fails on the old code:
 * `error` is `{}`.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import pino from 'pino';
import { contextFromHeaders, createApp, createConsoleLogger, withSpan } from '../../lib/core/index.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

const strip = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (k, x) => (k === 'stack' ? undefined : x)));

function foreign(source: string): Error {
  return vm.runInNewContext(source) as Error;
}

describe('an Error of another realm in a log record', () => {
  it('the JSON logger writes its name, message, code, stack, cause and (AggregateError) errors', () => {
    const lines: Record<string, unknown>[] = [];
    const log = createConsoleLogger({ write: (l) => lines.push(JSON.parse(l)) });
    const err = foreign(
      'Object.assign(new TypeError("fetch failed", { cause: Object.assign(new Error("refused"), { code: "ECONNREFUSED" }) }), { code: "E_FETCH" })',
    );
    assert.equal(err instanceof Error, false);
    log.error('failed', { error: err });
    log.error('close failed', { error: foreign('new AggregateError([new RangeError("one")], "2 failed")') });
    assert.match(
      String((lines[0]?.error as { stack?: unknown } | undefined)?.stack),
      /^TypeError: fetch failed\n/,
    );
    assert.deepEqual(strip(lines[0]?.error), {
      name: 'TypeError',
      message: 'fetch failed',
      code: 'E_FETCH',
      cause: { name: 'Error', message: 'refused', code: 'ECONNREFUSED' },
    });
    assert.deepEqual(strip(lines[1]?.error), {
      name: 'AggregateError',
      message: '2 failed',
      errors: [{ name: 'RangeError', message: 'one' }],
    });
  });

  it('so does a pino instance given to createApp', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const app = createApp({ logger: pino(sink) });
    app.logger.error('failed', { error: foreign('new TypeError("fetch failed")') });
    await app.close();
    assert.deepEqual(strip(lines[0]?.error), { name: 'TypeError', message: 'fetch failed' });
  });
});

/**
 * An Error given as the fields themselves, as JavaScript code writes `log.error('failed', err)`
 * (console-style). It has no keys of its own, so copying its fields copied nothing: the record
 * said `failed` and never what (JSON logger, and the fields the app adds for `console` in a span).
 * Found from outside (/tmp/R5/errfields.mjs). Fails on the old code: no `error` field.
 */
describe('an Error given as the fields of a log call', () => {
  it('the JSON logger writes it as the error field, in a span too', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createConsoleLogger({ write: (l) => lines.push(JSON.parse(l)) });
    const asFields = (err: Error) => err as unknown as Record<string, unknown>;
    log.error('request failed', asFields(Object.assign(new Error('db down'), { requestId: 'r1' })));
    const app = createApp({ logger: log });
    const ctx = contextFromHeaders(app.ctx, { traceparent: TRACEPARENT });
    await withSpan(ctx, 'op', async (c) => c.logger.error('in span', asFields(new Error('db down 2'))));
    await app.close();
    assert.deepEqual(strip(lines[0]?.error), { name: 'Error', message: 'db down' });
    assert.equal(lines[0]?.requestId, 'r1');
    assert.deepEqual(strip(lines[1]?.error), { name: 'Error', message: 'db down 2' });
    assert.equal(lines[1]?.trace_id, '0af7651916cd43dd8448eb211c80319c');
  });

  it('a logger without child (console-like) gets it as the error field beside the trace fields', async () => {
    const calls: unknown[] = [];
    const consoleLike = {
      debug() {},
      info() {},
      warn() {},
      error: (_msg: string, fields?: unknown) => calls.push(fields),
    };
    const app = createApp({ logger: consoleLike });
    const ctx = contextFromHeaders(app.ctx, { traceparent: TRACEPARENT });
    const err = new Error('db down');
    await withSpan(ctx, 'op', async (c) =>
      c.logger.error('in span', err as unknown as Record<string, unknown>),
    );
    await app.close();
    const fields = calls[0] as Record<string, unknown>;
    assert.equal(fields.error, err);
    assert.equal(fields.trace_id, '0af7651916cd43dd8448eb211c80319c');
  });
});
