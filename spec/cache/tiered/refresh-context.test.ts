/**
 * An early refresh is background work: the L1 hit that starts it is answered at once, and its
 * request may be over by the time the loader runs. It used to run in that caller's async context,
 * so whatever reads `AsyncLocalStorage` in the loader saw the request's stores: with the
 * OpenTelemetry tracer's `activeContext`, a span started there without an explicit parent
 * (`withSpan(app.ctx, …)`, an auto-instrumented database call) became a child of the request that
 * happened to hit the key — in its trace, starting after its server span had ended. The refresh
 * now runs outside it (its span is the root of a trace of its own); a foreground load still runs
 * in its caller's context.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { createApp } from '../../../lib/core/app.js';
import type { Bytes } from '../../../lib/core/contracts.js';
import { withSpan } from '../../../lib/core/span.js';
import { traceHandler } from '../../../lib/tracing/http.js';
import { createOtelTracer } from '../../../lib/tracing/otel/index.js';
import { deferred, within } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const enc = (s: string): Bytes => new TextEncoder().encode(s);

describeWithServers(
  'tiered early refresh runs outside the async context of the hit that started it',
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    const l2s: RedisCache[] = [];
    const caches: TieredCache[] = [];

    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await Promise.allSettled(caches.map((c) => c.close()));
      await Promise.allSettled(l2s.map((c) => c.close()));
      await redis?.stop();
    });

    /** A tiered cache over Redis that refreshes at every L1 hit (`random: () => 0`, whole life as window). */
    function make(prefix: string): TieredCache {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
      l2s.push(l2);
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1e6 }),
        l2,
        earlyRefresh: 1,
        random: () => 0,
      });
      caches.push(cache);
      return cache;
    }

    it('a loader run by a refresh sees none of the caller’s AsyncLocalStorage stores; a foreground one does', async () => {
      const cache = make('ctx-als:');
      const store = new AsyncLocalStorage<string>();
      const seen: (string | undefined)[] = [];
      const refreshed = deferred();
      const loader = async () => {
        seen.push(store.getStore());
        if (seen.length === 2) refreshed.resolve();
        return enc(`v${seen.length}`);
      };
      await store.run('request 1', () => cache.getOrSet('k', loader, 60_000));
      // An L1 hit inside the refresh window: answered from L1, the reload starts in the background.
      await store.run('request 2', () => cache.getOrSet('k', loader, 60_000));
      await within(refreshed.promise, 10_000, 'the early refresh to call the loader');
      assert.equal(cache.stats().refreshes, 1);
      assert.deepEqual(seen, ['request 1', undefined]);
    });

    it('with activeContext, a span the refresh starts without a parent is no child of the request that hit the key', async () => {
      const tracer = createOtelTracer({
        serviceName: 'refresh-context',
        exporter: 'memory',
        activeContext: true,
      });
      const cache = make('ctx-otel:');
      const app = createApp({ tracer, cache });
      const loads = { count: 0, second: deferred() };
      const server: Server = createServer(
        traceHandler(
          app.ctx,
          async (ctx, _req, res) => {
            // The loader's spans start from app.ctx: in active-context mode they nest under the
            // active span, the request's, when the request waits for the load.
            const v = await ctx.cache.getOrSet(
              'user:1',
              () =>
                withSpan(app.ctx, 'load user', async () => {
                  if (++loads.count === 2) loads.second.resolve();
                  return enc(`v${loads.count}`);
                }),
              60_000,
            );
            res.end(Buffer.from(v));
          },
          { route: '/users/:id' },
        ),
      );
      try {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/users/1`;
        const first = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        assert.equal(await first.text(), 'v1');
        // Served from L1; the hit starts the refresh.
        const second = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        assert.equal(await second.text(), 'v1');
        await within(loads.second.promise, 10_000, 'the early refresh to call the loader');
        const spans = await within(
          (async () => {
            for (let i = 0; i < 200; i++) {
              const done = tracer.finishedSpans();
              if (done.filter((s) => s.name === 'load user').length === 2) return done;
              await new Promise((r) => setTimeout(r, 25));
            }
            throw new Error('the refresh span never ended');
          })(),
          10_000,
          'both load spans',
        );
        const servers = spans.filter((s) => s.name === 'GET /users/:id');
        const [foreground, refresh] = spans.filter((s) => s.name === 'load user');
        assert.equal(servers.length, 2);
        assert.ok(foreground && refresh);
        const parentOf = (s: (typeof spans)[number]) =>
          (s as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId ??
          (s as { parentSpanId?: string }).parentSpanId;
        // The foreground load is the first request's child.
        assert.equal(parentOf(foreground), servers[0]!.spanContext().spanId);
        assert.equal(foreground.spanContext().traceId, servers[0]!.spanContext().traceId);
        // The refresh is no child of the second request (it started after that request ended).
        assert.equal(parentOf(refresh), undefined, 'the refresh span is a root');
        for (const s of servers) assert.notEqual(refresh.spanContext().traceId, s.spanContext().traceId);
      } finally {
        server.close();
        await app.close();
      }
    });
  },
);
