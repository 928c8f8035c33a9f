/**
 * A write of this instance that another instance's write or delete overtook, seen from outside on
 * real Redis (tiered audit 3). A's SET ran on the server first, B's SET (or DEL) after it, so L2
 * holds B's; B's invalidation reached A's subscriber before A's own SET reply did (a reply held up
 * on its connection: head-of-line behind a large reply, a retransmit). A then put its value into L1
 * all the same and served it over B's newer write, or after B's delete, for the entry's whole TTL
 * (60 s here) — although it had received the invalidation. The write's reply is delayed by a small
 * loopback proxy that holds server→client bytes of A's data connection (A's bus is direct).
 * The same when B's message was lost because A's subscriber reconnected while A's write was on its
 * way: the reconnect cleared L1, then A's reply came and filled it with the overtaken value.
 * Also pinned (mutation pass: each failed on a mutant of write.ts that dropped the guard): the same
 * for setMany, and A's own delete fencing A's load of the key before its DEL is sent — a load
 * returning while the delete's reply is held must store its value in neither level.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { sleep } from '../../../lib/core/timeout.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { type ReplyDelayProxy, replyDelayProxy } from './reply-delay.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('tiered cache: a write overtaken by another instance never fills L1', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: ReplyDelayProxy;
  let a: TieredCache;
  let b: TieredCache;
  before(async () => {
    redis = await startRedis();
    proxy = await replyDelayProxy(redis.port);
    const channel = 'wr:inv';
    const l2a = createRedisCache({ addresses: [`127.0.0.1:${proxy.port}`], keyPrefix: 'wr:', name: 'a' });
    a = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2a,
      ttl: 60_000,
      instanceId: 'A',
      bus: createRedisInvalidationBus({
        redis: { host: '127.0.0.1', port: redis.port, connectionName: 'wr-a' },
        channel,
      }),
    });
    const l2b = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'wr:', name: 'b' });
    b = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2b,
      ttl: 60_000,
      instanceId: 'B',
      bus: createRedisInvalidationBus({ client: l2b.client, channel }),
    });
    await Promise.all([a.ready, b.ready]);
    await a.get('warm-up'); // A's data connection and its clock measurement are done
  });
  after(async () => {
    await a?.close().catch(() => {});
    await b?.close().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  /** Runs `write` on A with its reply held back, and `overtake` on B once A's command has run. */
  async function overtaken(write: () => Promise<unknown>, overtake: () => Promise<unknown>): Promise<void> {
    const heard = a.stats().invalidationsReceived;
    proxy.state.delay = 200;
    try {
      const writing = write();
      await sleep(50); // A's command has run on the server; its reply is held by the proxy
      await overtake();
      await waitFor(() => a.stats().invalidationsReceived > heard, {
        timeoutMs: 2000,
        what: "B's invalidation at A",
      });
      await writing;
    } finally {
      proxy.state.delay = 0;
    }
  }

  it('set overtaken by another instance’s set: A reads the newer value, not its own from L1', async () => {
    await overtaken(
      () => a.set('k1', Buffer.from('from A')),
      () => b.set('k1', Buffer.from('from B')),
    );
    const r = await a.getWithMeta('k1');
    assert.equal(text(r?.value), 'from B', `A served ${text(r?.value)} from ${r?.source}`);
  });

  it('set overtaken by another instance’s delete: A reads a miss', async () => {
    await overtaken(
      () => a.set('k2', Buffer.from('from A')),
      () => b.delete('k2'),
    );
    const r = await a.getWithMeta('k2');
    assert.equal(r, undefined, `A served ${text(r?.value)} from ${r?.source}`);
  });

  it('setMany overtaken for one of its keys: that key is read from L2, the other from L1', async () => {
    await overtaken(
      () =>
        a.setMany([
          { key: 'k3', value: Buffer.from('A3') },
          { key: 'k4', value: Buffer.from('A4') },
        ]),
      () => b.set('k3', Buffer.from('B3')),
    );
    const r3 = await a.getWithMeta('k3');
    assert.equal(text(r3?.value), 'B3', `A served ${text(r3?.value)} from ${r3?.source}`);
    const r4 = await a.getWithMeta('k4');
    assert.equal(text(r4?.value), 'A4');
    assert.equal(r4?.source, 'l1', 'a key no one else wrote is still filled into the writer’s L1');
  });

  it('a write nobody overtook still fills the writer’s L1 (bus mode)', async () => {
    await a.set('k5', Buffer.from('A5'));
    const r = await a.getWithMeta('k5');
    assert.equal(text(r?.value), 'A5');
    assert.equal(r?.source, 'l1');
  });

  it('set whose reply comes after a bus reconnect that lost the overtaking write’s message: not filled', async () => {
    const list = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
    const id = /id=(\d+) [^\n]*name=wr-a:bus/.exec(list)?.[1];
    assert.ok(id, 'A’s subscriber connection is listed');
    const reconnects = a.stats().busReconnects;
    proxy.state.delay = 300;
    try {
      const writing = a.set('k6', Buffer.from('from A'));
      await sleep(50); // A's SET has run; its reply is held
      await redisCommand(redis.port, ['CLIENT', 'KILL', 'ID', id]); // A's subscriber drops
      await b.set('k6', Buffer.from('from B')); // its message reaches no subscriber of A
      await waitFor(() => a.stats().busReconnects > reconnects, {
        timeoutMs: 2000,
        what: 'A’s bus reconnect',
      });
      await writing;
    } finally {
      proxy.state.delay = 0;
    }
    const r = await a.getWithMeta('k6');
    assert.equal(text(r?.value), 'from B', `A served ${text(r?.value)} from ${r?.source}`);
  });

  it('setMany whose reply comes after a bus reconnect that lost the overtaking write’s message: not filled', async () => {
    const list = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
    const id = /id=(\d+) [^\n]*name=wr-a:bus/.exec(list)?.[1];
    assert.ok(id, 'A’s subscriber connection is listed');
    const reconnects = a.stats().busReconnects;
    proxy.state.delay = 300;
    try {
      const writing = a.setMany([
        { key: 'k8', value: Buffer.from('A8') },
        { key: 'k9', value: Buffer.from('A9') },
      ]);
      await sleep(50); // A's MSET has run; its reply is held
      await redisCommand(redis.port, ['CLIENT', 'KILL', 'ID', id]); // A's subscriber drops
      await b.set('k8', Buffer.from('B8')); // its message reaches no subscriber of A
      await waitFor(() => a.stats().busReconnects > reconnects, {
        timeoutMs: 2000,
        what: 'A’s bus reconnect',
      });
      await writing;
    } finally {
      proxy.state.delay = 0;
    }
    const r = await a.getWithMeta('k8');
    assert.equal(text(r?.value), 'B8', `A served ${text(r?.value)} from ${r?.source}`);
  });

  it('a delete of this instance during its own load: the load, returning before the delete’s reply, stores in neither level', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const loaderStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const loading = a.getOrSet('k7', async () => {
      started();
      await held;
      return Buffer.from('old');
    });
    await loaderStarted; // A's L2 read found nothing
    proxy.state.delay = 300;
    try {
      const deleting = a.delete('k7');
      await sleep(50); // the DEL has run on the server; its reply is held
      release(); // the load returns while the delete is still on its way
      assert.equal(text(await loading), 'old'); // its caller still gets the value
      await deleting;
    } finally {
      proxy.state.delay = 0;
    }
    assert.equal(text(await b.get('k7')), undefined, 'the loaded value did not land in L2 after the delete');
    const r = await a.getWithMeta('k7');
    assert.equal(r, undefined, `A served ${text(r?.value)} from ${r?.source}`);
  });
});
