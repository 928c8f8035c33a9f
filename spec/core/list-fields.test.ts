/**
 * A list given where a log call's fields go (from JavaScript: `log.info('ids', [7, 8])`) was spread
 * as fields `0` and `1` — first in the line, as integer keys come first in an object — by the
 * console logger and through a pino instance, and `child([7, 8])` bound them to every record. It
 * goes under `fields`, as text does, and a child given one adds nothing.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createApp, createConsoleLogger, type LogFields, type Logger } from '../../lib/core/index.js';

type Line = Record<string, unknown>;

function pinoInto(lines: Line[]): Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return createApp({ logger: pino({ level: 'debug' }, sink) }).logger;
}

function consoleInto(lines: Line[]): Logger {
  return createConsoleLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) });
}

describe('a list given as log fields', () => {
  for (const [name, make] of [
    ['console logger', consoleInto],
    ['pino instance through createApp', pinoInto],
  ] as const) {
    it(`${name}: goes under \`fields\`, and child() given one binds nothing`, async () => {
      const lines: Line[] = [];
      const log = make(lines);
      log.info('ids', [7, 8] as unknown as LogFields);
      log.child([7, 8] as unknown as LogFields).info('child', { orderId: 1 });
      log.child({ requestId: 'r1' }).warn('nested', [9] as unknown as LogFields);
      // pino's stream write is asynchronous
      for (let i = 0; i < 20 && lines.length < 3; i++) await new Promise((r) => setImmediate(r));
      assert.equal(lines.length, 3);
      const [ids, child, nested] = lines as [Line, Line, Line];
      assert.equal(ids.msg, 'ids');
      assert.deepEqual(ids.fields, [7, 8]);
      assert.equal('0' in ids, false, 'no field `0`');
      assert.equal(Object.keys(ids)[0] === '0', false);
      assert.equal(child.msg, 'child');
      assert.equal(child.orderId, 1);
      assert.equal('0' in child || '1' in child, false, 'the child bound no field');
      assert.equal(nested.requestId, 'r1');
      assert.deepEqual(nested.fields, [9]);
    });
  }
});
