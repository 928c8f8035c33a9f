import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAppFromConfig, loadConfig, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { withSpan } from '../../lib/core/span.js';
import type { OtelTracer } from '../../lib/tracing/otel/index.js';
import { describeWithServers } from '../harness/process.js';
import { skipRedis, startRedis } from '../harness/redis.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function writeTemp(name: string, text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'hyperion-config-'));
  dirs.push(dir);
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

describe('whole config file', () => {
  it('validates every section and reports all bad fields at once', () => {
    const err = (() => {
      try {
        parseConfig({
          tracing: { exporter: 'carrier-pigeon', sample_rate: 2 },
          cache: { type: 'redis', mode: 'sentinel', password: 's3cret!', pool_size: 10 },
          metrics: { port: 'ninety' },
          extra: true,
        });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    assert.ok(err instanceof ConfigError);
    const paths = err.issues.map((i) => i.path).sort();
    assert.deepEqual(paths, [
      'cache.pool_size',
      'cache.sentinel.master_name',
      'extra',
      'metrics.port',
      'tracing.exporter',
      'tracing.sample_rate',
    ]);
    assert.doesNotMatch(err.message, /s3cret/);
  });

  it('names the allowed cache types when type is wrong or missing', () => {
    assert.throws(
      () => parseConfig({ cache: { type: 'memcached' } }),
      (e: ConfigError) => e.issues[0]?.path === 'cache.type' && /memory, redis or tiered/.test(e.message),
    );
    assert.throws(
      () =>
        parseConfig({
          cache: { type: 'tiered', l1: { type: 'redis' }, l2: { type: 'memory', max_cost: 10 } },
        }),
      (e: ConfigError) => e.issues.some((i) => i.path === 'cache.l1.type'),
    );
  });

  it('accepts the original YAML sections', async () => {
    const p = await writeTemp(
      'app.yaml',
      `service: { name: users }
tracing:
  enabled: true
  service_name: my-service
  exporter: otlp
  endpoint: localhost:4318
  sample_rate: 1.0
  attributes: { environment: production, version: v1.0.0 }
cache:
  type: redis
  mode: standalone
  addresses: [localhost:6379]
  password: ""
  db: 0
  dial_timeout: 5s
  read_timeout: 3s
  write_timeout: 3s
metrics:
  enabled: true
  port: 9464
  path: /metrics
  namespace: hyperion
  subsystem: api
  collect_runtime: true
`,
    );
    const cfg = await loadConfig(p, { env: { HYPERION__TRACING__SAMPLE_RATE: '0.5' } });
    assert.equal(cfg.tracing?.sample_rate, 0.5);
    assert.equal(cfg.cache?.type, 'redis');
    assert.equal((cfg.cache as { read_timeout: number }).read_timeout, 3000);
  });
});

describeWithServers('createAppFromConfig against real Redis', skipRedis(), () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it('builds tracer, tiered cache (memory L1 + Redis L2) and metrics from one YAML file', async () => {
    const p = await writeTemp(
      'app.yaml',
      `service: { name: config-test }
logging: { level: error }
tracing: { exporter: memory }
cache:
  type: tiered
  l1: { type: memory, max_cost: 1048576 }
  l2: { type: redis, addresses: ["127.0.0.1:${redis.port}"], key_prefix: "cfg:" }
  ttl: 1m
  l2_timeout: 500ms
metrics: { namespace: cfgtest, port: 0 }
`,
    );
    const app = await createAppFromConfig(await loadConfig(p, { env: {} }));
    try {
      assert.equal(app.cache.name, 'tiered');
      const value = await withSpan(app.ctx, 'load', () =>
        app.cache.getOrSet('k', () => new TextEncoder().encode('v'), 60_000),
      );
      assert.equal(new TextDecoder().decode(value), 'v');
      // The value reached Redis under the configured prefix.
      const { redisCommand } = await import('../harness/redis.js');
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'cfg:k']), 1);
      const spans = (app.tracer as OtelTracer).finishedSpans();
      assert.equal(spans.length, 1);
      assert.equal(spans[0]?.resource.attributes['service.name'], 'config-test');
      const address = (app.metrics as unknown as { address?: { url: string } }).address;
      assert.ok(address, 'metrics endpoint started');
      const text = await (await fetch(address.url)).text();
      assert.match(text, /cfgtest_cache_requests_total\{cache="tiered",result="miss"\} 1/);
    } finally {
      await app.close();
    }
  });

  it('closes what it built when a later adapter fails', async () => {
    const cfg = parseConfig({
      tracing: { exporter: 'memory' },
      metrics: { port: redis.port }, // taken: listen() fails
    });
    await assert.rejects(createAppFromConfig(cfg), /EADDRINUSE|address already in use/i);
  });
});

describe('createAppFromConfig given an object it did not load', () => {
  // A JavaScript caller (or one with `JSON.parse` output) gets the same checks as a file: before,
  // `tracng:` and `sample_rat` were ignored and an app without tracing was built, a cache type typo
  // was a TypeError, a bad value was named by the factory's camelCase option.
  const rejects = async (config: unknown, paths: string[]) => {
    const err = await createAppFromConfig(config as never).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.deepEqual(err.issues.map((i) => i.path).sort(), paths, err.message);
    assert.match(err.message, /^createAppFromConfig: config: /);
    return err;
  };

  it('reports every bad field with its YAML path, as a file would', async () => {
    await rejects({ tracng: { exporter: 'memory' } }, ['tracng']);
    const typo = await rejects({ tracing: { exporter: 'memory', sample_rat: 0.5 } }, ['tracing.sample_rat']);
    assert.match(typo.message, /did you mean `sample_rate`\?/);
    await rejects({ cache: { type: 'memroy', max_cost: 10 } }, ['cache.type']);
    await rejects(
      { cache: { type: 'memory', max_cost: 'abc' }, logging: { level: 'verbose' }, metrics: { port: -1 } },
      ['cache.max_cost', 'logging.level', 'metrics.port'],
    );
    const secret = await rejects({ cache: { type: 'redis', password: 'S3CRET-app-obj', db: 'x' } }, [
      'cache.db',
    ]);
    assert.doesNotMatch(`${secret.message}${JSON.stringify(secret.issues)}`, /S3CRET/);
    await rejects(null, ['']);
    await rejects([{ tracing: {} }], ['']);
  });

  it('builds what it accepts, in the file forms ("5m"), and a loaded config as before', async () => {
    const app = await createAppFromConfig({
      tracing: { exporter: 'memory', sample_rate: 0.5 },
      cache: { type: 'memory', max_cost: 1024, default_ttl: '5m' },
    });
    try {
      assert.equal('finishedSpans' in app.tracer, true, 'the memory exporter tracer was built');
      await app.ctx.cache.set('k', new Uint8Array([1]));
      assert.deepEqual(await app.ctx.cache.get('k'), new Uint8Array([1]));
    } finally {
      await app.close();
    }
    const loaded = await createAppFromConfig(parseConfig({ cache: { type: 'memory', max_cost: 64 } }));
    await loaded.close();
  });
});

describe('service.name', () => {
  // A blank name passed the schema, then failed in the tracer factory as
  // `serviceName: must be a non-empty string` — a factory option the file does not have.
  it('a blank name is a ConfigError naming service.name; a padded one is trimmed, as tracing.service_name', async () => {
    assert.throws(
      () => parseConfig({ service: { name: '  ' }, tracing: { exporter: 'memory' } }),
      (e: unknown) => e instanceof ConfigError && e.issues.map((i) => i.path).join() === 'service.name',
    );
    const config = parseConfig({ service: { name: ' users ' }, tracing: { exporter: 'memory' } });
    assert.equal(config.service?.name, 'users');
    const app = await createAppFromConfig(config);
    try {
      app.tracer.startSpan('x').end();
      const spans = (app.tracer as OtelTracer).finishedSpans();
      assert.equal(spans[0]?.resource.attributes['service.name'], 'users');
    } finally {
      await app.close();
    }
  });
});

describe('createAppFromConfig options that are not an options object', () => {
  it('null, a string or a list is a ConfigError (null threw a TypeError, a string was ignored)', async () => {
    for (const options of [null, 'x', [], 5])
      await assert.rejects(
        createAppFromConfig({ metrics: { port: 0 } }, options as never),
        (e: unknown) =>
          e instanceof ConfigError && /^createAppFromConfig: options must be an object/.test(e.message),
        String(options),
      );
  });

  it('components that is not an object is refused before anything is built, not by createApp after', async () => {
    await assert.rejects(
      createAppFromConfig(
        { tracing: { exporter: 'memory' }, metrics: { port: 0 } },
        { components: 5 as never },
      ),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith('createAppFromConfig: invalid options') &&
        e.issues[0]?.path === 'components',
    );
  });
});
