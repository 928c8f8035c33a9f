/**
 * A logger whose methods are async (a sink that sends each record) and whose promises reject
 * (the sink is down). Found from outside: every adapter swallowed a logger's throw, but not the
 * promise such a logger returns — its rejection was unhandled, and under Node's default
 * `--unhandled-rejections=throw` the first record ended the process: a Redis cache's first
 * connection error, the tiered cache's "breaker opened", the tracer's "span export failed" (also
 * through createApp's logger), a failed metrics collect callback, the drain's "draining".
 */
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { createApp } from '../../lib/core/app.js';
import type { Logger } from '../../lib/core/contracts.js';
import { drainServer } from '../../lib/core/drain.js';
import { startSpan } from '../../lib/core/span.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { freePort } from '../harness/process.js';

let calls = 0;
const sinkDown = async (): Promise<void> => {
  calls++;
  throw new Error('log sink down');
};
const logger = { debug: sinkDown, info: sinkDown, warn: sinkDown, error: sinkDown } as unknown as Logger;
(logger as { child: Logger['child'] }).child = () => logger;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
before(() => {
  process.on('unhandledRejection', onUnhandled);
});
after(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Runs one part; it must have written at least one record through the logger. */
async function part(name: string, fn: () => Promise<void>) {
  const before = calls;
  await fn();
  assert.ok(calls > before, `${name}: no record written`);
}

async function settled() {
  // Unhandled rejections are reported after the microtask queue drains.
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

it('adapters drop the rejected promise of an async logger: no unhandled rejection', async () => {
  const port = await freePort(); // nothing listens there

  await part('redis cache', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${port}`], commandTimeout: 100, logger });
    await assert.rejects(cache.get('k'));
    await cache.close();
  });

  await part('tiered cache', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${port}`], commandTimeout: 50 });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 10 }),
      l2,
      logger,
      breaker: { failures: 1, cooldown: 60_000 },
    });
    await tiered.get('a');
    assert.equal(tiered.breakerState(), 'open');
    await tiered.close();
    await l2.close();
  });

  await part('tracer', async () => {
    const tracer = createOtelTracer({ endpoint: `http://127.0.0.1:${port}/v1/traces`, logger });
    tracer.startSpan('op').end();
    await assert.rejects(tracer.flush());
    await tracer.close();
  });

  await part("tracer through the app's logger", async () => {
    const appTracer = createOtelTracer({ endpoint: `http://127.0.0.1:${port}/v1/traces` });
    const app = createApp({ tracer: appTracer, logger });
    appTracer.startSpan('op').end();
    await assert.rejects(appTracer.flush());
    await app.close();
  });

  await part('metrics', async () => {
    const metrics = createMetrics({ logger });
    metrics.onCollect(() => {
      throw new Error('collect failed');
    });
    assert.match((await metrics.render()).body, /# HELP/);
    await metrics.close();
  });

  await part('drain', async () => {
    // A request still running when the drain begins: the drain logs it.
    let arrived!: () => void;
    const inFlight = new Promise<void>((r) => {
      arrived = r;
    });
    const server = createServer(() => arrived());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port: serverPort } = server.address() as { port: number };
    const req = request({ host: '127.0.0.1', port: serverPort });
    req.on('error', () => {});
    req.end();
    await inFlight;
    await drainServer(server, { graceMs: 0, logger })();
    req.destroy();
    server.closeAllConnections();
    server.close();
  });

  await settled();
  assert.deepEqual(
    unhandled.map((r) => String((r as Error)?.message ?? r)),
    [],
  );
});

it("the core's own records on ctx.logger drop the rejected promise too", async () => {
  // traceHandler's 'request handler failed', startSpan's option warning and ctx.with's patch
  // warning go to the app's logger as the user gave it: the same async logger ended the process
  // there after the adapters had been fixed.
  const app = createApp({ logger });
  const before = calls;
  startSpan(app.ctx, 'op', { colour: 'red' } as never).span.end();
  app.ctx.with({ attributes: 'req-1' as never });
  const server = createServer(
    traceHandler(app.ctx, async () => {
      throw new Error('handler failed');
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 500);
  await new Promise<void>((r) => server.close(() => r()));
  await app.close();
  assert.ok(calls - before >= 3, `expected the three records, got ${calls - before}`);
  await settled();
  assert.deepEqual(
    unhandled.map((r) => String((r as Error)?.message ?? r)),
    [],
  );
});

it("createApp's and createAppFromConfig's own warnings drop the rejected promise too", async () => {
  // Two more records of the app's logger as the user gave it: createApp's "span export metrics
  // not registered" (the adapter already has a metric of that name) and createAppFromConfig's
  // OTEL_* environment warnings over a propagate-only tracer. Each ended the process at startup.
  const metrics = createMetrics({ collectRuntime: false });
  metrics.gauge({ name: 'spans_exported', help: 'taken by the service' });
  const tracer = createOtelTracer({ exporter: 'none' });
  await part('createApp span export metrics', async () => {
    await createApp({ tracer, metrics, logger }).close();
  });

  const saved = process.env.OTEL_SDK_DISABLED;
  process.env.OTEL_SDK_DISABLED = 'yes'; // read as false, with a warning
  try {
    await part('createAppFromConfig environment warning', async () => {
      const config = parseConfig({ tracing: { exporter: 'none' } });
      await (await createAppFromConfig(config, { logger })).close();
    });
  } finally {
    if (saved === undefined) delete process.env.OTEL_SDK_DISABLED;
    else process.env.OTEL_SDK_DISABLED = saved;
  }
  await settled();
  assert.deepEqual(
    unhandled.map((r) => String((r as Error)?.message ?? r)),
    [],
  );
});
