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
import { createApp, createConsoleLogger } from '../../lib/core/index.js';

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
    assert.match(String((lines[0]?.error as { stack?: unknown }).stack), /^TypeError: fetch failed\n/);
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
