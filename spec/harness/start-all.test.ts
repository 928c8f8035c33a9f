/** startAll: parallel starts where one failure stops the others instead of leaking them. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startAll } from './process.js';

it('startAll resolves every result in order, or stops/removes the started ones and rethrows the first failure', async () => {
  const done: string[] = [];
  const server = (name: string) => ({ name, stop: async () => done.push(`stop ${name}`) });
  const dir = { remove: async () => done.push('remove dir') };
  const [a, b] = await startAll([Promise.resolve(server('a')), Promise.resolve(dir)]);
  assert.equal(a.name, 'a');
  assert.equal(b, dir);
  assert.deepEqual(done, []);
  const boom = new Error('bind: address already in use');
  await assert.rejects(
    startAll([Promise.resolve(server('x')), Promise.reject(boom), Promise.resolve(dir), Promise.resolve(5)]),
    (err) => err === boom,
  );
  assert.deepEqual(done.sort(), ['remove dir', 'stop x']);
});
