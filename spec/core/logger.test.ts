import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CacheError } from '../../lib/core/errors.js';
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
