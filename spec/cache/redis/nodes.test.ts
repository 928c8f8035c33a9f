/** Which node an error names (issue 13 item 9), on client stand-ins: no server needed (a closed port). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { Cluster, Redis } from 'iovalkey';
import { toCacheError } from '../../../lib/cache/redis/errors.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeNodes, nodeKeyAddress } from '../../../lib/cache/redis/nodes.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { CacheError } from '../../../lib/core/errors.js';

const node = (host: string, port: number) =>
  ({ options: { host, port }, status: 'ready' }) as unknown as Redis;

function cluster(owner: (slot: number) => string): Cluster {
  const slots: string[][] = [];
  for (let s = 0; s < 16384; s++) slots[s] = [owner(s)];
  return {
    isCluster: true,
    slots,
    nodes: () => [node('127.0.0.1', 7001), node('127.0.0.1', 7002)],
  } as unknown as Cluster;
}

describe('errors name their node (issue 13 item 9)', () => {
  it('a redirection names the slot owner now and where the last redirect pointed', () => {
    const c = cluster(() => '127.0.0.1:7113');
    const err = new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 2479 127.0.0.1:7110');
    const where = describeNodes(c, err);
    assert.equal(where, 'slot 2479 on 127.0.0.1:7113, last redirected to 127.0.0.1:7110');
    const e = toCacheError('get', err, [], where);
    assert.equal(e.code, 'unavailable');
    assert.match(e.message, /slot 2479 on 127\.0\.0\.1:7113/);
    assert.equal(e.cause, err);
  });

  it('a key names the node of its slot; no key lists the masters', () => {
    const c = cluster((s) => (s < 8192 ? '127.0.0.1:7001' : '127.0.0.1:7002'));
    const slot = keySlot('p:k');
    assert.equal(
      describeNodes(c, new Error('x'), 'p:k'),
      `slot ${slot} on 127.0.0.1:${slot < 8192 ? 7001 : 7002}`,
    );
    assert.equal(describeNodes(c, new Error('x')), 'cluster nodes 127.0.0.1:7001, 127.0.0.1:7002');
  });

  it('standalone names host:port; sentinel before connecting names the sentinels', () => {
    assert.equal(describeNodes(node('10.0.0.5', 6380)), '10.0.0.5:6380');
    const sentinel = {
      isCluster: false,
      status: 'connecting',
      options: {
        name: 'mymaster',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26380 },
        ],
      },
    } as unknown as Redis;
    assert.equal(describeNodes(sentinel), 'master "mymaster" via sentinels 10.0.0.1:26379, 10.0.0.2:26380');
  });

  // An IPv6 host was printed bare (`::1:6379`): a form `addresses` refuses, and ambiguous.
  it('an IPv6 host is named in brackets, as addresses takes it', async () => {
    assert.equal(describeNodes(node('::1', 6380)), '[::1]:6380');
    const sentinel = {
      isCluster: false,
      status: 'connecting',
      options: { name: 'm', sentinels: [{ host: 'fd00::5', port: 26379 }] },
    } as unknown as Redis;
    assert.equal(describeNodes(sentinel), 'master "m" via sentinels [fd00::5]:26379');
    // A cluster's slot owners are iovalkey's node names, `host:port` joined bare, and a server's
    // MOVED reply names its target the same way: seen from outside on a cluster bound to ::1
    // (a master killed) as `redis get failed (slot 12182 on ::1:27103)` and in clear()'s error.
    const v6 = cluster((s) => (s < 8192 ? '::1:7001' : 'fd00::2:7002'));
    const slot = keySlot('p:k');
    assert.equal(
      describeNodes(v6, new Error('x'), 'p:k'),
      `slot ${slot} on ${slot < 8192 ? '[::1]:7001' : '[fd00::2]:7002'}`,
    );
    assert.equal(
      describeNodes(
        v6,
        new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 100 ::1:7003'),
      ),
      'slot 100 on [::1]:7001, last redirected to [::1]:7003',
    );
    assert.equal(nodeKeyAddress('::1:7001'), '[::1]:7001');
    assert.equal(nodeKeyAddress('10.0.0.1:7001'), '10.0.0.1:7001');
    assert.equal(nodeKeyAddress('[::1]:7001'), '[::1]:7001');
    assert.equal(nodeKeyAddress('main'), 'main');
    // From outside: a cache on [::1] (a closed port) names it so in errors, health() and when printed.
    const cache = createRedisCache({ addresses: ['[::1]:1'], commandTimeout: 200 });
    try {
      await assert.rejects(
        cache.get('k'),
        (e: unknown) => e instanceof CacheError && e.message.includes('([::1]:1)'),
      );
      const health = await cache.health();
      assert.match(String(health.error), /not connected to \[::1\]:1 /);
      assert.match(inspect(cache.client), /addresses: \[ '\[::1\]:1' \]/);
    } finally {
      await cache.close();
    }
  });
});
