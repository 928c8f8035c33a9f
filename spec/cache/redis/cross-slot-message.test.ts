/**
 * The `cross_slot` error of a cluster transaction names its keys: quoted as JSON, so a key holding
 * a quote or a line break keeps visible bounds (it was printed raw: `"a"\n"` split the message
 * over two lines, its bounds unclear). Checked before anything is sent, so no server is needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSlotCheck } from '../../../lib/cache/redis/transaction/slots.js';
import { CacheError } from '../../../lib/core/errors.js';

describe('cluster transaction cross_slot message', () => {
  it('quotes each key as JSON', () => {
    const check = createSlotCheck('app:');
    check.add('say "hi"\nnow');
    let caught: unknown;
    try {
      check.add('b');
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof CacheError && caught.code === 'cross_slot', String(caught));
    assert.ok(caught.message.includes('"say \\"hi\\"\\nnow" (slot '), caught.message);
    assert.ok(caught.message.includes('"b" (slot '), caught.message);
    assert.ok(!caught.message.includes('\n'), 'no raw line break');
  });
});
