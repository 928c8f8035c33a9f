/**
 * Fixed histories for the model's checker (./model.ts `checkHistory`), so that a change of the
 * oracle is tested without servers or seeds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHistory } from './model.js';

type History = Parameters<typeof checkHistory>[0];
type Write = History['writes'][number];

const write = (
  instance: number,
  key: string,
  value: string | null,
  inv: number,
  res: number,
  status: Write['status'],
): Write => ({
  instance,
  key,
  value,
  inv,
  res,
  resAt: res,
  status,
});

function history(
  writes: Write[],
  read: { caller: number; instance: number; key: string; value: string; inv: number; res: number },
): History {
  return {
    writes,
    reads: [{ ...read, invAt: read.inv, getOrSet: false }],
    readsResolved: 1,
    readsWithValue: 1,
    getOrSetRejected: 0,
    unexpected: [],
    lagged: [],
  };
}

describe('model checker', () => {
  // `npm run check:model`, seed 1796213785 path 708 (Redis cache, instance 0 behind the fault
  // proxy, instance 1 direct): instance 0's clear began first (a SCAN loop plus UNLINKs over a
  // keyspace of many keys), instance 1 missed c and began a load, instance 0 set c (acknowledged),
  // the clear's later SCAN round found c and removed it, and the load's NX store then found c
  // absent and stored. The clear was still running when the set began, so it may take effect
  // after it: the documented limit of the conditional store, not a superseded read.
  const seen = { caller: 3, instance: 1, key: 'c', value: 'L4', inv: 42, res: 43 };
  const load = () => write(1, 'c', 'L4', 15, 41, 'loader');
  const set = () => write(0, 'c', 'v5', 18, 22, 'ok');

  it('a delete from another instance still running when a set began may remove it before a load stores', () => {
    const h = history([write(0, 'c', null, 2, 23, 'ok'), load(), set()], seen);
    assert.deepEqual(checkHistory(h, { runs: 1, instances: 2, faults: true }), []);
  });

  it('a delete that returned before the set began does not excuse the load', () => {
    const h = history([write(0, 'c', null, 2, 17, 'ok'), load(), set()], seen);
    const problems = checkHistory(h, { runs: 1, instances: 2, faults: true });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /superseded by write v5/);
  });

  it('a delete that began only after the load returned does not excuse it', () => {
    const h = history([load(), set(), write(0, 'c', null, 44, 45, 'ok')], seen);
    assert.equal(checkHistory(h, { runs: 1, instances: 2, faults: true }).length, 1);
  });

  it("a delete through the load's own instance does not excuse it (its fence would have refused the store)", () => {
    const h = history([write(1, 'c', null, 19, 23, 'ok'), load(), set()], seen);
    assert.equal(checkHistory(h, { runs: 1, instances: 2, faults: true }).length, 1);
  });
});
