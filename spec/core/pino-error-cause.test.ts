/**
 * An Error's `cause` through a pino instance given to createApp. The README promises an error in a
 * record's fields is written with its name, message, code, stack and cause, "also through a pino
 * instance"; the cause came out as `{}` there (pino writes an Error as `{}`, and only the top
 * error was turned into fields), so `fetch failed` lost the ECONNREFUSED that says why. Found from
 * outside (/tmp/logging/odd-errors.mts). Fails on the old code: `cause` is `{}`.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createApp, createConsoleLogger } from '../../lib/core/index.js';

function pinoInto(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino(sink);
}

const refused = () =>
  new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
  });

describe('an error cause through a pino logger given to createApp', () => {
  it('is written as fields (message, code), not {}', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = createApp({ logger: pinoInto(lines) });
    app.logger.error('request handler failed', { error: refused() });
    await app.close();
    const error = lines[0]?.error as { message: string; cause: { message?: string; code?: string } };
    assert.equal(error.message, 'fetch failed');
    assert.equal(error.cause.code, 'ECONNREFUSED', JSON.stringify(lines[0]));
    assert.equal(error.cause.message, 'connect ECONNREFUSED 127.0.0.1:1');
  });

  it('a chain that loops ends in [circular], and a long one in [too deep] — as the JSON logger writes them', async () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    let long = new Error('e0');
    for (let i = 1; i <= 20; i++) long = new Error(`e${i}`, { cause: long });
    const lines: Record<string, unknown>[] = [];
    const own: Record<string, unknown>[] = [];
    const app = createApp({ logger: pinoInto(lines) });
    const json = createConsoleLogger({ write: (l) => own.push(JSON.parse(l)) });
    for (const log of [app.logger, json]) {
      log.error('loop', { error: a });
      log.error('long', { error: long });
    }
    await app.close();
    const strip = (v: unknown): unknown =>
      JSON.parse(JSON.stringify(v, (k, x) => (k === 'stack' ? undefined : x)));
    for (const records of [lines, own]) {
      assert.deepEqual(strip(records[0]?.error), {
        name: 'Error',
        message: 'a',
        cause: { name: 'Error', message: 'b', cause: '[circular]' },
      });
      let depth = 0;
      let e = records[1]?.error as { cause?: unknown } | string;
      while (typeof e === 'object' && e.cause !== undefined) {
        e = e.cause as typeof e;
        depth++;
      }
      assert.equal(e, '[too deep]');
      assert.equal(depth, 10);
    }
  });
});

/**
 * A child's fields through pino, as a record's: `app.logger.child({ error: err })` wrote the error
 * as `{}`, and `child({ time })` or `child({ msg })` went out as a second `time` / `msg` key after
 * pino's own — JSON readers take the last, so the line was dated 1970 or said the child's text.
 * Found from outside (/tmp/R5/pino.mts). Fails on the old code: `error` is `{}`, `time` is 1.
 */
describe("a child's fields through a pino logger given to createApp", () => {
  it("an Error is written as fields, and time / msg / level cannot replace the record's own", async () => {
    const lines: Record<string, unknown>[] = [];
    const app = createApp({ logger: pinoInto(lines) });
    const before = Date.now();
    app.logger.child({ error: refused(), request: 'r1' }).error('request handler failed');
    app.logger.child({ time: 1, msg: 'spoof', level: 'debug' }).warn('own keys');
    await app.close();
    const error = lines[0]?.error as { message?: string; cause?: { code?: string } };
    assert.equal(error.message, 'fetch failed', JSON.stringify(lines[0]));
    assert.equal(error.cause?.code, 'ECONNREFUSED');
    assert.equal(lines[0]?.request, 'r1');
    assert.equal(lines[1]?.msg, 'own keys');
    assert.equal(lines[1]?.level, 40);
    assert.ok((lines[1]?.time as number) >= before, JSON.stringify(lines[1]));
  });
});
