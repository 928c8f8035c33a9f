import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createApp } from '../../lib/core/app.js';
import { CacheError, ConfigError } from '../../lib/core/errors.js';
import { createConsoleLogger } from '../../lib/core/logger.js';

describe('console logger', () => {
  it('writes JSON lines at or above the level, with child fields and errors', () => {
    const lines: string[] = [];
    const log = createConsoleLogger({
      level: 'info',
      write: (l) => lines.push(l),
      now: () => 0,
      fields: { svc: 'a' },
    });
    log.debug('hidden');
    log
      .child({ req: 'r1' })
      .warn('careful', { error: new CacheError('timeout', 'slow', { cause: new Error('x') }), n: 10n });
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!);
    // Each error keeps its stack (checked below); the rest of the record exactly.
    assert.match(rec.error.stack, /^CacheError: slow\n\s+at /);
    assert.match(rec.error.cause.stack, /^Error: x\n\s+at /);
    delete rec.error.stack;
    delete rec.error.cause.stack;
    assert.deepEqual(rec, {
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'careful',
      svc: 'a',
      req: 'r1',
      error: { name: 'CacheError', message: 'slow', code: 'timeout', cause: { name: 'Error', message: 'x' } },
      n: '10',
    });
  });
});

describe('console logger: an AggregateError keeps its errors', () => {
  it("app.close()'s CloseError, as closeOnSignals logs it, says what each disposer threw", async () => {
    // The record had the CloseError's message (naming the disposers) but not its errors: why
    // "db" failed was lost from the one line a failed shutdown writes.
    const lines: string[] = [];
    const logger = createConsoleLogger({ write: (l) => lines.push(l) });
    const app = createApp({ logger });
    app.defer('db', () => {
      throw new Error('pool end failed');
    });
    app.defer('cache', () => Promise.reject(new CacheError('unavailable', 'redis gone')));
    const err = await app.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    logger.error('app close failed', { error: err });
    const rec = JSON.parse(lines[0]!);
    assert.equal(rec.error.code, 'close_failed');
    assert.deepEqual(
      rec.error.errors.map((e: { message: string; cause: { message: string; code?: string } }) => [
        e.message,
        e.cause.message,
        e.cause.code,
      ]),
      [
        ['disposer "cache" failed', 'redis gone', 'unavailable'],
        ['disposer "db" failed', 'pool end failed', undefined],
      ],
    );
  });

  it('at most 10 of them, and one that contains itself does not recurse for ever', () => {
    const lines: string[] = [];
    const logger = createConsoleLogger({ write: (l) => lines.push(l) });
    const many = new AggregateError(
      Array.from({ length: 25 }, (_, i) => new Error(`e${i}`)),
      'many',
    );
    const self = new AggregateError([], 'self');
    (self.errors as unknown[]).push(self);
    logger.error('x', { many, self });
    const rec = JSON.parse(lines[0]!);
    assert.equal(rec.many.errors.length, 10);
    assert.equal(rec.many.errors[9].message, 'e9');
    assert.equal(rec.self.errors[0].message, 'self');
  });
});

describe('console logger: a log call never throws on what it is given', () => {
  const lines: string[] = [];
  const log = createConsoleLogger({ write: (l) => lines.push(l), now: () => 0 });
  const record = (fields: unknown, message: unknown = 'm') => {
    lines.length = 0;
    log.error(message as string, fields as never);
    assert.equal(lines.length, 1);
    return JSON.parse(lines[0]!);
  };

  // Found from outside (/tmp/R5/huge.mts): a record whose JSON is longer than V8's longest string
  // (2^29 − 24 characters: a body of a few hundred MB, a large Buffer) threw `RangeError: Invalid
  // string length` out of the log call. Fails on the old code with that RangeError. (A few seconds:
  // the record has to be that long.)
  it('a record longer than the longest string writes the fields that fit, the others as [too large]', () => {
    // 90 M control characters: 540 M characters of JSON (each is written \u0001).
    const body = '\u0001'.repeat(90_000_000);
    const rec = record({ status: 413, body });
    assert.deepEqual(rec, {
      time: '1970-01-01T00:00:00.000Z',
      level: 'error',
      msg: 'm',
      status: 413,
      body: '[too large]',
    });
  });

  it('marks a cycle, a throwing getter or toJSON and very deep nesting instead of throwing', () => {
    const req: Record<string, unknown> = { url: '/x' };
    req.self = req;
    assert.deepEqual(record({ req }).req, { url: '/x', self: '[circular]' });
    const err = new Error('loop') as Error & { cause?: unknown };
    err.cause = err;
    assert.deepEqual(record({ err }).err, {
      name: 'Error',
      message: 'loop',
      stack: err.stack,
      cause: '[circular]',
    });
    const boom = () => {
      throw new Error('boom');
    };
    assert.equal(record({ v: { toJSON: boom } }).v, '[unreadable]');
    assert.equal(record(Object.defineProperty({}, 'v', { get: boom, enumerable: true })).v, '[unreadable]');
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100_000; i++) deep = deep.n = {};
    let seen = record({ root }).root;
    let depth = 0;
    while (typeof seen === 'object') {
      seen = seen.n;
      depth++;
    }
    assert.equal(seen, '[too deep]');
    assert.ok(depth < 20, String(depth));
    // A value seen twice but not inside itself is printed twice, not marked.
    const shared = { a: 1 };
    assert.deepEqual(record({ x: shared, y: [shared, shared], c: req }).y, [{ a: 1 }, { a: 1 }]);
  });

  it('fields whose keys cannot be listed, and child() fields with a throwing getter, are marked', () => {
    const unlistable = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    // The log call threw the Proxy's error; nested, the value printed as {}.
    assert.equal(record(unlistable).fields, '[unreadable]');
    assert.equal(record({ p: unlistable }).p, '[unreadable]');
    const getter = Object.defineProperty({}, 'x', {
      get() {
        throw new Error('getter');
      },
      enumerable: true,
    });
    lines.length = 0;
    // child() spread its fields and threw the getter's error.
    log.child(getter).child(unlistable).warn('bound');
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'bound',
      x: '[unreadable]',
      fields: '[unreadable]',
    });
  });

  it('fields are copied when the logger is made: changing the object later changes no record', () => {
    const out: string[] = [];
    const fields: Record<string, unknown> = { svc: 'a' };
    const root = createConsoleLogger({ write: (l) => out.push(l), now: () => 0, fields });
    const child = root.child({ req: 1 });
    fields.svc = 'changed';
    fields.user = 'someone else';
    root.info('root');
    child.info('child');
    // The root logger printed svc "changed" and the user; its child did not.
    assert.deepEqual(JSON.parse(out[0]!), {
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'root',
      svc: 'a',
    });
    assert.equal(JSON.parse(out[1]!).svc, 'a');
  });

  it('a clock that throws or gives no time (NaN, a bigint) does not make the log call throw', () => {
    const clocks = [
      () => Number.NaN,
      () => process.hrtime.bigint(),
      () => 1e20,
      () => {
        throw new Error('clock');
      },
    ];
    for (const now of clocks) {
      const out: string[] = [];
      const clocked = createConsoleLogger({ write: (l) => out.push(l), now: now as () => number });
      assert.doesNotThrow(() => clocked.error('still logged'));
      const r = JSON.parse(out[0]!);
      assert.equal(r.msg, 'still logged');
      assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 60_000, `the system time: ${r.time}`);
    }
  });

  it("keeps the record's own time, level and msg; a __proto__ field stays data", () => {
    const r = record({ level: 'debug', time: 'never', msg: 'forged', k: 1 });
    assert.deepEqual(r, { time: '1970-01-01T00:00:00.000Z', level: 'error', msg: 'm', k: 1 });
    const parsed = record(JSON.parse('{"__proto__": {"polluted": true}, "a": 2}'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value, { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('fast-check: any JSON-ish value with cycles spliced in logs as one parseable line', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, cyclic) => {
        const holder: Record<string, unknown> = { value };
        if (cyclic) holder.again = holder;
        lines.length = 0;
        log.info('p', { holder });
        assert.equal(lines.length, 1);
        assert.ok(lines[0]!.endsWith('\n') && !lines[0]!.slice(0, -1).includes('\n'));
        JSON.parse(lines[0]!);
      }),
      { numRuns: 300 },
    );
  });
});

describe('console logger: a sink that fails', () => {
  /** Warnings with `code` emitted while `fn` runs (they are delivered on the next tick). */
  async function warningsOf(code: string, fn: () => void | Promise<void>): Promise<Error[]> {
    const seen: Error[] = [];
    const on = (w: Error) => {
      if ((w as { code?: string }).code === code) seen.push(w);
    };
    process.on('warning', on);
    try {
      await fn();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', on);
    }
    return seen;
  }

  // A closed pipe (EPIPE) made every log call throw: in a handler a log line became a 500.
  it('a write that throws drops the record and is one process warning per logger', async () => {
    let calls = 0;
    const log = createConsoleLogger({
      write: () => {
        calls++;
        throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      },
    });
    const warnings = await warningsOf('HYPERION_LOG_WRITE', () => {
      for (let i = 0; i < 3; i++) {
        log.info('a');
        log.child({ req: i }).error('b', { error: new Error('x') });
      }
    });
    assert.equal(calls, 6);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.name, 'HyperionLogWarning');
    assert.match(warnings[0]!.message, /write failed, the record was dropped: write EPIPE/);
  });

  it('an async write that rejects is reported the same way, not an unhandled rejection', async () => {
    const log = createConsoleLogger({ write: async () => Promise.reject(new Error('stream destroyed')) });
    const warnings = await warningsOf('HYPERION_LOG_WRITE', async () => {
      log.warn('a');
      log.warn('b');
      await new Promise((resolve) => setImmediate(resolve));
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.message, /stream destroyed/);
  });
});

describe('console logger options', () => {
  const refusal = (options: unknown) => {
    try {
      createConsoleLogger(options as never);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e;
    }
    assert.fail(`accepted ${JSON.stringify(options)}`);
  };

  it('refuses an unknown level, naming the nearest one (it used to let every record through)', () => {
    const e = refusal({ level: 'INFO' });
    assert.deepEqual(
      e.issues.map((i) => i.path),
      ['level'],
    );
    assert.match(e.message, /level: is not a known log level; did you mean `info`\?/);
    assert.match(refusal({ level: 'warning' }).message, /expected one of debug, info, warn, error/);
    // Other loggers' names, too far for the edit-distance hint, still name ours.
    assert.match(refusal({ level: 'warning' }).message, /did you mean `warn`\?/);
    assert.match(refusal({ level: 'FATAL' }).message, /did you mean `error`\?/);
    assert.match(refusal({ level: 'trace' }).message, /did you mean `debug`\?/);
    assert.match(refusal({ level: 20 }).message, /level: must be a string/);
  });

  it('accepts exactly the four levels', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom('debug', 'info', 'warn', 'error', 'constructor'), fc.string()),
        (level) => {
          const known = ['debug', 'info', 'warn', 'error'].includes(level);
          if (known) createConsoleLogger({ level: level as never, write: () => {} });
          else
            assert.deepEqual(
              refusal({ level }).issues.map((i) => i.path),
              ['level'],
            );
        },
      ),
    );
  });

  it('refuses unknown keys (with a suggestion) and wrong types, all at once', () => {
    const e = refusal({ wirte: () => {}, now: 0, fields: 'svc', extra: 1 });
    assert.deepEqual(
      e.issues.map((i) => i.path),
      ['wirte', 'extra', 'fields', 'now'],
    );
    assert.match(e.message, /wirte: is not a known option; did you mean `write`\?/);
    assert.match(refusal({ write: process.stderr }).message, /write: write must be a function/);
    assert.match(refusal({ fields: ['a'] }).message, /fields: fields must be an object/);
    assert.deepEqual(
      refusal(null).issues.map((i) => i.path),
      [''],
    );
  });
});
