import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
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
