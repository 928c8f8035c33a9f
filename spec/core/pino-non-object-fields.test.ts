/**
 * A pino instance given to `createApp` (through `adaptLogger`) and `createConsoleLogger` take the
 * same calls from JavaScript alike when the fields are not an object. With pino the adapter passed
 * them first as they were: `log.error('request failed', err.message)` became a record whose
 * message was `err.message` ('request failed' lost, taken by pino as an argument of its format),
 * `child(null)` / `child(undefined)` threw pino's "missing bindings for child Pino", and
 * `child('ab')` bound fields `0` and `1`. The console logger writes such fields under `fields` and
 * binds nothing for a child given no object; the pino adapter now does the same.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import pino from 'pino';
import { createApp, createConsoleLogger, type LogFields, type Logger } from '../../lib/core/index.js';

type Line = Record<string, unknown>;

function pinoInto(lines: Line[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

function consoleInto(lines: Line[]) {
  return createConsoleLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) });
}

/** The calls a JavaScript caller makes; TypeScript would refuse these fields. */
function misuse(log: Logger): void {
  const fields = (v: unknown) => v as LogFields;
  log.error('request failed', fields('ECONNREFUSED'));
  log.warn('retrying', fields(3));
  log.child(fields(null)).info('from a child of null');
  log.child(fields(undefined)).info('from a child of undefined');
  log.child(fields('ab')).info('from a child of a string');
}

for (const [name, make] of [
  ['pino through createApp', (lines: Line[]) => createApp({ logger: pinoInto(lines) }).logger],
  ['createConsoleLogger', consoleInto],
] as const) {
  it(`${name}: non-object fields keep the message and go under fields; child() of them adds nothing`, () => {
    const lines: Line[] = [];
    misuse(make(lines));
    assert.deepEqual(
      lines.map((l) => l.msg),
      [
        'request failed',
        'retrying',
        'from a child of null',
        'from a child of undefined',
        'from a child of a string',
      ],
    );
    assert.equal(lines[0]!.fields, 'ECONNREFUSED');
    assert.equal(lines[1]!.fields, 3);
    for (const line of lines.slice(2)) {
      assert.equal('0' in line, false, JSON.stringify(line));
      assert.equal('fields' in line, false, JSON.stringify(line));
    }
  });
}
