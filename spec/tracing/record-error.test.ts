/**
 * `recordError` (and so `withSpan` on a throw or rejection): the `exception` event follows the
 * semantic conventions — `exception.type` is the error's class (`name`), or a string `code` as
 * OpenTelemetry JS reads it, never a DOMException's numeric legacy code; a thrown object of the
 * Error shape keeps its message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { withSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

async function recorded(thrown: unknown, mode: 'sync' | 'async') {
  const tracer = createOtelTracer({ exporter: 'memory' });
  const app = createApp({ tracer });
  let passedOn: unknown;
  try {
    if (mode === 'sync')
      withSpan(app.ctx, 'op', () => {
        throw thrown;
      });
    else
      await withSpan(app.ctx, 'op', async () => {
        throw thrown;
      });
  } catch (err) {
    passedOn = err;
  }
  assert.equal(passedOn, thrown, 'the same value is passed on');
  const [span] = tracer.finishedSpans();
  await app.close();
  assert.ok(span);
  const event = span.events.find((e) => e.name === 'exception');
  assert.ok(event, 'an exception event');
  return { status: span.status, attributes: event.attributes ?? {} };
}

describe('recordError: the exception event', () => {
  for (const mode of ['sync', 'async'] as const) {
    it(`${mode}: an aborted or timed-out signal's DOMException has its name as exception.type, not "20" / "23"`, async () => {
      const aborted = AbortSignal.abort().reason as DOMException;
      assert.equal(aborted.name, 'AbortError');
      const a = await recorded(aborted, mode);
      assert.equal(a.attributes['exception.type'], 'AbortError');
      assert.equal(a.attributes['exception.message'], aborted.message);
      assert.equal(typeof a.attributes['exception.stacktrace'], 'string');
      const t = await recorded(new DOMException('The operation timed out', 'TimeoutError'), mode);
      assert.equal(t.attributes['exception.type'], 'TimeoutError');
      assert.deepEqual(t.status, { code: 2, message: 'The operation timed out' });
    });

    it(`${mode}: a string code (Node's system errors) is still the type; plain errors give their name`, async () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      assert.equal((await recorded(refused, mode)).attributes['exception.type'], 'ECONNREFUSED');
      assert.equal((await recorded(new RangeError('r'), mode)).attributes['exception.type'], 'RangeError');
    });

    it(`${mode}: a thrown object of the Error shape keeps its message and name (not "[object Object]")`, async () => {
      const r = await recorded({ name: 'ValidationError', message: 'email is required' }, mode);
      assert.equal(r.attributes['exception.message'], 'email is required');
      assert.equal(r.attributes['exception.type'], 'ValidationError');
      assert.deepEqual(r.status, { code: 2, message: 'email is required' });
      // A name alone: the type, and the message too (it was "[object Object]" with no type).
      const named = await recorded({ name: 'NotFound' }, mode);
      assert.equal(named.attributes['exception.type'], 'NotFound');
      assert.equal(named.attributes['exception.message'], 'NotFound');
      assert.deepEqual(named.status, { code: 2, message: 'NotFound' });
      // Other values: their string form, as before.
      assert.equal((await recorded('plain string', mode)).attributes['exception.message'], 'plain string');
      assert.equal((await recorded(42, mode)).attributes['exception.message'], '42');
      assert.equal(
        (await recorded({ no: 'message' }, mode)).attributes['exception.message'],
        '[object Object]',
      );
    });
  }
});
