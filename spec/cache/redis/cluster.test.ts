import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

/** Keys of every node we can count directly (bypassing the cache). */
async function keysOnMasters(cluster: RedisCluster, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const n of cluster.nodes) {
    const r = new Redis({ port: n.port, lazyConnect: true });
    r.on('error', () => {});
    try {
      await r.connect();
      const role = (await r.call('ROLE')) as unknown[];
      if (role[0] !== 'master') continue;
      found.push(...(await r.keys(pattern)));
    } finally {
      r.disconnect();
    }
  }
  return found;
}

describeWithServers('redis cache on a 6-node cluster', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  const make = (opts: Parameters<typeof createRedisCache>[0] = {}) => {
    const c = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 2000,
      ...opts,
    });
    caches.push(c);
    return c;
  };

  before(async () => {
    cluster = await startRedisCluster();
    cache = make({ keyPrefix: 'cl:' });
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('computes the same hash slots as the server', async () => {
    const r = new Redis({ port: cluster.nodes[0]!.port });
    r.on('error', () => {});
    try {
      for (const k of ['', 'a', 'foo', '{user1000}.following', 'x{}y', '{}{a}', 'é€🙂', 'cl:key-42']) {
        assert.equal(keySlot(k), await r.cluster('KEYSLOT', k), k);
      }
    } finally {
      r.disconnect();
    }
  });

  it('spreads getMany/setMany across slots and keeps request order', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    const slots = new Set(keys.map((k) => keySlot(`cl:${k}`)));
    assert.ok(slots.size > 100, 'the keys really span many slots');
    await cache.setMany(
      keys.filter((_, i) => i % 3 !== 0).map((k) => ({ key: k, value: enc(k), ttl: 60_000 })),
    );
    const got = await cache.getMany([...keys].reverse());
    assert.deepEqual(
      got.map(dec),
      [...keys].reverse().map((k) => (Number(k.slice(4)) % 3 === 0 ? undefined : k)),
    );
    const s = cache.stats();
    assert.equal(s.hits, 133);
    assert.equal(s.misses, 67);
  });

  it('getManyWithTtl: values and their remaining TTLs across slots, in request order', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `ttl-${i}`);
    // Thirds: no value, a value with a 60 s TTL, a value without expiry.
    await cache.setMany(
      keys
        .filter((_, i) => i % 3 !== 0)
        .map((k, j) => ({ key: k, value: enc(k), ttl: j % 2 === 0 ? 60_000 : undefined })),
    );
    const order = [...keys].reverse();
    const got = await cache.getManyWithTtl(order);
    assert.equal(got.length, order.length);
    let withTtl = 0;
    order.forEach((k, i) => {
      const hit = got[i];
      if (Number(k.slice(4)) % 3 === 0) assert.equal(hit, undefined, k);
      else {
        assert.equal(dec(hit?.value), k);
        if (hit?.ttl !== undefined) {
          withTtl++;
          assert.ok(hit.ttl > 50_000 && hit.ttl <= 60_000, `${k}: ${hit.ttl}`);
        }
      }
    });
    assert.equal(withTtl, 20);
  });

  it('pipelines across nodes with results in order', async () => {
    const p = cache.pipeline();
    for (let i = 0; i < 30; i++) p.set(`p${i}`, enc(`v${i}`), 60_000);
    for (let i = 0; i < 30; i++) p.get(`p${i}`);
    p.delete('p0').get('p0');
    const r = await p.exec();
    assert.deepEqual(r.slice(0, 30), Array(30).fill(true));
    assert.deepEqual(
      r.slice(30, 60).map((x) => dec(x as Uint8Array)),
      Array.from({ length: 30 }, (_, i) => `v${i}`),
    );
    assert.deepEqual(r.slice(60), [true, undefined]);
  });

  it('clear() scans every master and removes only its own prefix', async () => {
    const a = make({ keyPrefix: 'ta:' });
    const b = make({ keyPrefix: 'tb:' });
    await a.setMany(Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: enc('a') })));
    await b.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: enc('b') })));
    assert.equal((await keysOnMasters(cluster, 'ta:*')).length, 300);
    await a.clear();
    assert.equal((await keysOnMasters(cluster, 'ta:*')).length, 0);
    assert.equal((await keysOnMasters(cluster, 'tb:*')).length, 50);
    assert.deepEqual((await b.getMany(['k0', 'k49'])).map(dec), ['b', 'b']);
  });

  it('reads from replicas with cluster.readOnly', async () => {
    const ro = make({ keyPrefix: 'cl:', cluster: { readOnly: true } });
    await ro.set('ro-key', enc('replicated'));
    // replicas lag a little behind the master
    await waitFor(async () => dec(await ro.get('ro-key')) === 'replicated', {
      timeoutMs: 5000,
      what: 'replica read',
    });
    assert.deepEqual((await ro.getMany(['ro-key', 'nope'])).map(dec), ['replicated', undefined]);
    const replicaGets = async () => {
      let total = 0;
      for (const n of cluster.replicas) {
        const r = new Redis({ port: n.port });
        r.on('error', () => {});
        const stats = await r.info('commandstats').finally(() => r.disconnect());
        // A replica that has not processed READONLY yet answers MOVED (a rejected call), and iovalkey
        // then reads that slot from the master until its next slot refresh: count both.
        const line = /cmdstat_get:(.*)/.exec(stats)?.[1] ?? '';
        total +=
          Number(/calls=(\d+)/.exec(line)?.[1] ?? 0) + Number(/rejected_calls=(\d+)/.exec(line)?.[1] ?? 0);
      }
      return total;
    };
    // The client may have fetched its slot map before every replica joined; it refreshes it
    // periodically, so keep reading (bounded) until a replica has served a GET.
    const served = await waitFor(
      async () => {
        await ro.get('ro-key');
        return (await replicaGets()) > 0;
      },
      { timeoutMs: 12_000, intervalMs: 200, what: 'a GET served by a replica' },
    ).catch(() => false);
    assert.ok(served, 'GETs were routed to a replica');
  });

  it('reports health of all masters and replicas', async () => {
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    assert.equal(h.mode, 'cluster');
    assert.equal(typeof h.latencyMs, 'number');
    assert.equal(h.nodes.filter((n) => n.role === 'master').length, 3);
    assert.ok(h.nodes.every((n) => (n.role === 'master' ? n.connected : true)));
  });

  // issue 13 item 10: replicas the client had not connected (lazy, no reads routed to them, as a
  // node that rejoined after a failover) showed `connected: false` next to `ok: true`.
  it('health: every node it lists answered when it says ok (replicas included)', async () => {
    const fresh = make({ keyPrefix: 'health:' });
    await fresh.set('k', enc('v'));
    const h = await fresh.health();
    assert.equal(h.ok, true, h.error);
    assert.equal(h.nodes.length, 6);
    for (const node of h.nodes) assert.equal(node.connected, true, `${node.role} ${node.address}`);
  });

  // Right after a failover the client replaces connections (a MOVED pointing back at the node
  // that sent it recreates that node's connection) and re-reads the slot map; a health() probe
  // running meanwhile saw a slot owner in no node list and said 'slots whose owner did not
  // answer' for a node that was up (seen in CI; 1 probe in ~3,600 in a scratch loop of manual
  // failovers under CPU load). Here the same state made on purpose: a master's connection ends
  // on the client's side, so the pool drops it while the slot map still names it. health()
  // re-reads the topology and probes again before it says not ok.
  it('health: a slot owner whose connection the client just dropped (server up) is re-read, not reported unserved', async () => {
    const fresh = make({ keyPrefix: 'health-race:' });
    await fresh.set('k', enc('v'));
    assert.equal((await fresh.health()).ok, true);
    const client = fresh.client as Cluster;
    for (let round = 0; round < 3; round++) {
      const master = client.nodes('master')[round % 3]!;
      const address = `${master.options.host}:${master.options.port}`;
      master.disconnect();
      await waitFor(
        () => !client.nodes('master').some((n) => `${n.options.host}:${n.options.port}` === address),
        { timeoutMs: 2000, what: 'the pool to drop the connection' },
      );
      const started = performance.now();
      const h = await fresh.health();
      assert.equal(h.ok, true, `round ${round}: ${h.error}`);
      assert.equal(h.nodes.filter((n) => n.role === 'master').length, 3);
      assert.ok(performance.now() - started < 2000, 'within the one command timeout');
    }
    assert.equal(dec(await fresh.get('k')), 'v');
  });

  it('deleteMany removes keys spread over many slots, one UNLINK per slot (issue 13 item 11)', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `dm-${i}`);
    await cache.setMany(keys.map((key) => ({ key, value: enc(key) })));
    assert.ok(new Set(keys.map((k) => keySlot(`cl:${k}`))).size > 20, 'the keys span many slots');
    assert.equal(await cache.deleteMany([...keys, 'dm-absent', keys[0]!]), 40);
    assert.deepEqual(
      await cache.getMany(keys),
      keys.map(() => undefined),
    );
  });

  // Hash-tagged keys share one slot: a getMany/deleteMany of 150,000 of them failed with `backend`
  // "Maximum call stack size exceeded" (iovalkey spreads a cluster pipeline command's keys).
  it('getMany and deleteMany of 150,000 keys in one slot (hash tag) work', async () => {
    // What is checked is that such a batch can be sent at all, not its speed: a budget a loaded
    // CI machine keeps (at the shared 2 s, one deleteMany timed out with the load average at 16).
    const cache = make({ keyPrefix: 'cl:', commandTimeout: 20_000 });
    const keys = Array.from({ length: 150_000 }, (_, i) => `{big}:${i}`);
    const marked = [0, 9_999, 10_000, 77_777, 149_999];
    await cache.setMany(marked.map((i) => ({ key: keys[i]!, value: enc(`v${i}`) })));
    const values = await cache.getMany(keys);
    assert.equal(values.length, keys.length);
    for (const i of marked) assert.equal(dec(values[i]), `v${i}`);
    assert.equal(values.filter((v) => v !== undefined).length, marked.length);
    assert.equal(await cache.deleteMany(keys), marked.length);
    assert.deepEqual(
      await cache.getMany(marked.map((i) => keys[i]!)),
      marked.map(() => undefined),
    );
  });

  it('a delete, deleteMany or pipeline delete that timed out never lands after a newer acknowledged set', async (t) => {
    // Every node behind a delaying proxy (natMap): the (per-slot) deletes reach their masters ~1.6 s
    // late, after the caller was told they timed out and after another client's acknowledged
    // setMany. Before deletes were deadline-guarded, those late UNLINKs removed the newer values.
    // The client's 1 s command timeout leaves room for the undelayed calls on a loaded machine: at
    // 200 ms the first setMany timed out once in a CI run under load.
    const proxies = await Promise.all(
      cluster.nodes.map((n) => startFaultProxy({ target: { host: n.host, port: n.port } })),
    );
    const natMap = Object.fromEntries(
      cluster.nodes.map((n, i) => [`${n.host}:${n.port}`, { host: '127.0.0.1', port: proxies[i]!.port }]),
    );
    const client = new Cluster(
      proxies.map((p) => ({ host: '127.0.0.1', port: p.port })),
      { natMap, redisOptions: { commandTimeout: 1000 } },
    );
    client.on('error', () => {});
    t.after(async () => {
      client.disconnect();
      await Promise.all(proxies.map((p) => p.close()));
    });
    const a = createRedisCache({ client, keyPrefix: 'late-del:' });
    caches.push(a);
    const b = make({ keyPrefix: 'late-del:' });
    const keys = Array.from({ length: 12 }, (_, i) => `ld-${i}`);
    assert.ok(new Set(keys.map((k) => keySlot(`late-del:${k}`))).size > 6, 'the keys span slots');
    const deletes = {
      delete: () => a.delete(keys[0]!),
      deleteMany: () => a.deleteMany(keys),
      pipeline: () => {
        const p = a.pipeline();
        for (const k of keys) p.delete(k);
        return p.exec();
      },
    };
    for (const [kind, run] of Object.entries(deletes)) {
      await a.setMany(keys.map((key) => ({ key, value: enc('v1') })));
      for (const p of proxies) p.delay = 1600;
      await rejectsWith(run(), 'timeout');
      await b.setMany(keys.map((key) => ({ key, value: enc('v3') })));
      await waitFor(() => proxies.every((p) => p.held === 0), {
        timeoutMs: 10_000,
        what: 'the delayed deletes to be forwarded',
      });
      for (const p of proxies) p.delay = 0;
      // A read of every key through A follows the late deletes on each node's connection.
      await waitFor(async () => (await a.getMany(keys).catch(() => undefined)) !== undefined, {
        timeoutMs: 10_000,
        what: 'a read through the healed proxies',
      });
      assert.deepEqual(
        (await b.getMany(keys)).map(dec),
        keys.map(() => 'v3'),
        `${kind}: the timed-out deletes did not remove the newer values`,
      );
    }
    // In time, the guarded per-slot deletes apply and count what they removed.
    assert.equal(await a.deleteMany([...keys, 'ld-absent']), keys.length);
  });

  it('a node error names the node of the key and keeps the reply as cause (issue 13 item 9)', async () => {
    const key = 'oom-key';
    const slot = keySlot(`cl:${key}`);
    const owner = (cache.client as Cluster).slots[slot]![0]!;
    const [host, port] = owner.split(':');
    const raw = new Redis({ host, port: Number(port) });
    raw.on('error', () => {});
    try {
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.config('SET', 'maxmemory', '1');
      const err = await cache.set(key, enc('x'.repeat(1000))).then(
        () => assert.fail('set should fail'),
        (e: unknown) => e as Error & { code?: string },
      );
      assert.equal(err.code, 'oom');
      assert.ok(err.message.includes(owner), `${err.message} names ${owner}`);
      assert.ok(err.cause instanceof Error);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
      raw.disconnect();
    }
  });

  it('accepts an injected Cluster client and infers cluster mode', async (t) => {
    const client = new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        redisOptions: { commandTimeout: 1000 },
      },
    );
    client.on('error', () => {});
    t.after(() => client.disconnect());
    const c = createRedisCache({ client, keyPrefix: 'inj:' });
    assert.equal(c.mode, 'cluster');
    await c.setMany([
      { key: 'x', value: enc('1') },
      { key: 'y', value: enc('2') },
    ]);
    assert.deepEqual((await c.getMany(['y', 'x'])).map(dec), ['2', '1']);
    await c.close();
    assert.equal(await client.get('inj:x'), '1');
    assert.throws(() => createRedisCache({ client, mode: 'standalone' }), ConfigError);
  });
});
