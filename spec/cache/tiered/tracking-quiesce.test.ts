/**
 * Property (fast-check) on a real standalone Redis: two tiered instances with tracking (default
 * and BCAST) and an outside redis-cli writer run random interleavings of reads (get, getMany,
 * getOrSet), writes through the instances (set, delete, setMany) and outside writes of many kinds
 * (SET, DEL, PEXPIRE, APPEND, MULTI/EXEC, EVAL, RENAME onto the key, FLUSHDB). Once everything has
 * settled and the invalidations had time to arrive, every instance answers every key exactly as
 * Redis holds it (read through a fresh instance with an empty L1): no L1 copy outlives a change.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { type OutsideWriter, outsideWriter, text } from './tracking-helpers.js';

const KEYS = ['a', 'b', 'c'] as const;
const OUTSIDE = ['SET', 'DEL', 'PEXPIRE', 'APPEND', 'MULTI', 'EVAL', 'RENAME', 'FLUSHDB'] as const;

type Op =
  | { kind: 'get' | 'getOrSet' | 'delete' | 'set'; who: number; key: string }
  | { kind: 'getMany' | 'setMany'; who: number }
  | { kind: 'outside'; what: (typeof OUTSIDE)[number]; key: string }
  | { kind: 'pause'; ms: number };

const key = fc.constantFrom(...KEYS);
const who = fc.integer({ min: 0, max: 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('get', 'getOrSet', 'delete', 'set') as fc.Arbitrary<'get'>, who, key }),
  fc.record({ kind: fc.constantFrom('getMany', 'setMany') as fc.Arbitrary<'getMany'>, who }),
  fc.record({ kind: fc.constant('outside' as const), what: fc.constantFrom(...OUTSIDE), key }),
  fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 5 }) }),
);

describeWithServers('tracking property: quiesced instances agree with Redis', skipRedis(), () => {
  let redis: RedisStandalone;
  let cli: OutsideWriter;
  before(async () => {
    redis = await startRedis();
    cli = outsideWriter(redis.port);
  });
  after(async () => {
    cli?.close();
    await redis?.stop();
  });

  for (const mode of ['default', 'bcast'] as const)
    it(`${mode} mode`, async () => {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(op, { maxLength: 12 }), { minLength: 2, maxLength: 3 }),
          async (lanes) => {
            const ns = `q${mode}${++round}`;
            const made: TieredCache[] = [];
            const instance = (tracked: boolean) => {
              const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${ns}:` });
              const c = createTieredCache({
                l1: createMemoryCache({ maxCost: 1 << 16 }),
                l2,
                tracking: tracked ? createRedisTracking({ cache: l2, mode, heartbeat: 1000 }) : undefined,
                l1Ttl: 60_000,
              });
              made.push(c);
              return c;
            };
            try {
              const caches = [instance(true), instance(true)];
              await Promise.all(caches.map((c) => c.ready));
              let n = 0;
              let outsideQueue: Promise<void> = Promise.resolve();
              const run = async (o: Op) => {
                const v = Buffer.from(`v${++n}`);
                const rk = (k: string) => `${ns}:${k}`;
                switch (o.kind) {
                  case 'get':
                    return caches[o.who]!.get(o.key);
                  case 'getOrSet':
                    return caches[o.who]!.getOrSet(o.key, async () => v, 60_000);
                  case 'set':
                    return caches[o.who]!.set(o.key, v, 60_000);
                  case 'delete':
                    return caches[o.who]!.delete(o.key);
                  case 'getMany':
                    return caches[o.who]!.getMany([...KEYS]);
                  case 'setMany':
                    return caches[o.who]!.setMany(KEYS.map((k) => ({ key: k, value: v, ttl: 60_000 })));
                  case 'pause':
                    return new Promise((r) => setTimeout(r, o.ms));
                  case 'outside': {
                    const k = rk(o.key);
                    const lines: Record<(typeof OUTSIDE)[number], string[]> = {
                      SET: [`SET ${k} o${n}`],
                      DEL: [`DEL ${k}`],
                      PEXPIRE: [`PEXPIRE ${k} 1`],
                      APPEND: [`APPEND ${k} x`],
                      MULTI: ['MULTI', `SET ${k} m${n}`, 'EXEC'],
                      EVAL: [`EVAL "return redis.call('SET', KEYS[1], ARGV[1])" 1 ${k} e${n}`],
                      RENAME: [`SET ${k}.src r${n}`, `RENAME ${k}.src ${k}`],
                      FLUSHDB: ['FLUSHDB'],
                    };
                    // One outside write at a time on the redis-cli session, its lines together:
                    // lanes interleaving there nested a MULTI in another lane's, and an EXEC of an
                    // empty transaction prints only an empty line (in the raw output redis-cli
                    // gives a pipe), which matches no command: the stream fell a reply behind and
                    // the next command "gave no reply" (seen in a CI run under load). The writes
                    // still interleave with the instances' operations.
                    const mine = outsideQueue.then(async () => {
                      for (const line of lines[o.what]) await cli.run(line);
                    });
                    outsideQueue = mine.catch(() => {});
                    return mine;
                  }
                }
              };
              await Promise.all(
                lanes.map(async (lane) => {
                  for (const o of lane) await run(o);
                }),
              );
              // Let the invalidations arrive (and PEXPIRE 1 keys expire), then compare.
              await new Promise((r) => setTimeout(r, 150));
              const oracle = instance(false);
              for (const k of KEYS) {
                const truth = text(await oracle.get(k));
                for (const [i, c] of caches.entries())
                  assert.equal(text(await c.get(k)), truth, `instance ${i}, key ${k}`);
              }
            } finally {
              await Promise.all(made.map((c) => c.close().catch(() => {})));
            }
          },
        ),
        {
          numRuns: Number(process.env.HYPERION_MODEL_RUNS ?? 25),
          seed: Number(process.env.HYPERION_MODEL_SEED ?? Date.now() % 2 ** 31),
        },
      );
    });
});
