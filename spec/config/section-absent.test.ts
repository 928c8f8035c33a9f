/**
 * The `…OptionsFromConfig` mappings given no section: a file without `tracing:` (or `metrics:`,
 * `cache:`) loads with that section absent, and `tracingOptionsFromConfig(config.tracing)` — from
 * JavaScript, or with an `any`-typed config — threw a raw TypeError ("Cannot read properties of
 * undefined (reading 'enabled')"); a number or a string was mapped to `{}`, every default. Each is
 * now a ConfigError whose issue names the section.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  loadConfigFromText,
  memoryOptionsFromConfig,
  metricsOptionsFromConfig,
  redisOptionsFromConfig,
  tieredOptionsFromConfig,
  tracingOptionsFromConfig,
} from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const mappings: [string, (section: never) => unknown, string][] = [
  ['tracingOptionsFromConfig', tracingOptionsFromConfig as (s: never) => unknown, 'tracing'],
  ['metricsOptionsFromConfig', metricsOptionsFromConfig as (s: never) => unknown, 'metrics'],
  ['memoryOptionsFromConfig', memoryOptionsFromConfig as (s: never) => unknown, 'cache'],
  ['redisOptionsFromConfig', redisOptionsFromConfig as (s: never) => unknown, 'cache'],
  ['tieredOptionsFromConfig', tieredOptionsFromConfig as (s: never) => unknown, 'cache'],
];

describe('…OptionsFromConfig given no section', () => {
  it('a loaded file without the section: a ConfigError naming it, not a TypeError', () => {
    const config = loadConfigFromText('service: { name: shop }\n', { format: 'yaml' }) as Record<
      string,
      never
    >;
    for (const [name, fn, path] of mappings) {
      assert.equal(config[path], undefined);
      assert.throws(
        () => fn(config[path]!),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, `${name}: ${String(e)}`);
          assert.match(e.message, new RegExp(`^${name}: no \`${path}\` section given`));
          assert.deepEqual(
            e.issues.map((i) => [i.path, i.received]),
            [[path, 'undefined']],
          );
          assert.match(e.issues[0]!.message, new RegExp(`a config without \`${path}:\` has none`));
          return true;
        },
      );
    }
  });

  it('null, a number, a string or a list: a ConfigError too (a number or a string mapped to every default)', () => {
    for (const [name, fn, path] of mappings)
      for (const [section, received] of [
        [null, 'null'],
        [42, 'number'],
        ['x', 'string'],
        [[], 'array'],
      ] as const)
        assert.throws(
          () => fn(section as never),
          (e: unknown) =>
            e instanceof ConfigError && e.issues[0]?.path === path && e.issues[0]?.received === received,
          `${name}(${JSON.stringify(section)})`,
        );
  });

  it('a section that is there still maps', () => {
    const config = loadConfigFromText('tracing: { exporter: none }\nmetrics: { enabled: false }\n', {
      format: 'yaml',
    });
    assert.deepEqual(tracingOptionsFromConfig(config.tracing!), { exporter: 'none' });
    assert.deepEqual(metricsOptionsFromConfig(config.metrics!), { enabled: false });
  });
});

describe('a cache mapping given a cache section of another type', () => {
  // Found from outside: `redisOptionsFromConfig(config.cache)` of a tiered cache (its Redis is
  // `cache.l2`) mapped to `{}`, and `createRedisCache({})` went to 127.0.0.1:6379 without a word.
  const config = loadConfigFromText(
    'cache:\n  type: tiered\n  l1: { type: memory, max_cost: 1000 }\n  l2: { type: redis, addresses: ["10.0.0.5:6379"] }\n',
    { format: 'yaml' },
  );
  const cache = config.cache as unknown as { l1: never; l2: never };

  it('a ConfigError naming the type found and, for a tiered cache, the level to map', () => {
    assert.throws(
      () => redisOptionsFromConfig(config.cache as never),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.deepEqual(
          e.issues.map((i) => [i.path, i.expected, i.received]),
          [['cache.type', 'redis', '"tiered"']],
        );
        assert.match(e.issues[0]!.message, /redisOptionsFromConfig\(config\.cache\.l2\)/);
        return true;
      },
    );
    assert.throws(
      () => memoryOptionsFromConfig(config.cache as never),
      /memoryOptionsFromConfig\(config\.cache\.l1\)/,
    );
    assert.throws(() => memoryOptionsFromConfig(cache.l2), /of cache type "redis", not memory/);
    assert.throws(() => redisOptionsFromConfig(cache.l1), /of cache type "memory", not redis/);
    assert.throws(() => tieredOptionsFromConfig(cache.l2), /of cache type "redis", not tiered/);
  });

  it('the section of the right type maps (one built by hand without `type` too)', () => {
    assert.deepEqual(redisOptionsFromConfig(cache.l2), { addresses: ['10.0.0.5:6379'] });
    assert.deepEqual(memoryOptionsFromConfig(cache.l1), { maxCost: 1000 });
    assert.deepEqual(redisOptionsFromConfig({ addresses: ['10.0.0.6:6379'] } as never), {
      addresses: ['10.0.0.6:6379'],
    });
  });
});

describe('a mapping given a section of another kind', () => {
  // Found from outside: a section without `type` (`config.service`, `config.metrics`) or the whole
  // config given to a mapping was taken as an empty one — `tracingOptionsFromConfig(config.service)`
  // gave `{}`, a tracer with every default, and `redisOptionsFromConfig(config.metrics)` a Redis at
  // 127.0.0.1:6379 — and a memory helper given `config.cache.l2` named `cache.type`.
  const config = loadConfigFromText(
    [
      'service: { name: shop }',
      'tracing: { exporter: none }',
      'metrics: { port: 9464 }',
      'cache:',
      '  type: tiered',
      '  l1: { type: memory, max_cost: 1000 }',
      '  l2: { type: redis, addresses: ["10.0.0.5:6379"] }',
      '',
    ].join('\n'),
    { format: 'yaml' },
  );
  const cache = config.cache as unknown as { l1: never; l2: never };
  const refused = (fn: () => unknown, path: string, message: RegExp, issue: RegExp) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      assert.equal(e.issues.length, 1);
      assert.equal(e.issues[0]!.path, path);
      assert.match(e.issues[0]!.message, issue);
      return true;
    });

  it('a section without a type: names the fields, the section expected and the call', () => {
    refused(
      () => tracingOptionsFromConfig(config.service as never),
      'tracing',
      /^tracingOptionsFromConfig: the section given is not a `tracing` section \(it has `name`\)/,
      /is the `service` section \(config\.service\).*tracingOptionsFromConfig\(config\.tracing, config\.service\)/,
    );
    refused(
      () => metricsOptionsFromConfig({ level: 'info' } as never),
      'metrics',
      /it has `level`/,
      /give metricsOptionsFromConfig config\.metrics/,
    );
    refused(
      () => redisOptionsFromConfig(config.metrics as never),
      'cache',
      /not a `cache` section \(it has `port`\)/,
      /give redisOptionsFromConfig config\.cache, or config\.cache\.l2 of a tiered cache/,
    );
    refused(
      () => metricsOptionsFromConfig(config.tracing as never),
      'metrics',
      /it has `exporter`/,
      /give metricsOptionsFromConfig config\.metrics/,
    );
  });

  it('a cache section given to the tracing or metrics mapping: names the cache helper of its type', () => {
    refused(
      () => metricsOptionsFromConfig(config.cache as never),
      'metrics',
      /not a `metrics` section/,
      /is the tiered cache section \(config\.cache\): map it with tieredOptionsFromConfig/,
    );
    refused(
      () => tracingOptionsFromConfig(cache.l2),
      'tracing',
      /not a `tracing` section/,
      /is the redis cache section .*: map it with redisOptionsFromConfig/,
    );
  });

  it('a level of another type: the path is its `type`, not `cache.type`, and the helper of that type is named', () => {
    refused(
      () => memoryOptionsFromConfig(cache.l2),
      'type',
      /of cache type "redis", not memory/,
      /is a redis cache section .*: map it with redisOptionsFromConfig/,
    );
    refused(
      () => redisOptionsFromConfig(cache.l1),
      'type',
      /of cache type "memory", not redis/,
      /map it with memoryOptionsFromConfig/,
    );
  });

  it('the whole config: says so and names the section to give', () => {
    refused(
      () => tracingOptionsFromConfig(config as never),
      'tracing',
      /not a `tracing` section/,
      /is the whole config: give tracingOptionsFromConfig its `tracing` section, config\.tracing/,
    );
  });

  it('a section built by hand with a misspelt field: the nearest one is named (it was ignored)', () => {
    refused(
      () => memoryOptionsFromConfig({ max_cost: 1000, default_tll: 5000 } as never),
      'cache',
      /it has `default_tll`/,
      /did you mean `default_ttl`\?/,
    );
    // Its own sections, and one built by hand with the section's fields, still map.
    assert.deepEqual(tracingOptionsFromConfig({ ...config.tracing!, service_name: 'x' }), {
      serviceName: 'x',
      exporter: 'none',
    });
    assert.deepEqual(metricsOptionsFromConfig(config.metrics!), { port: 9464 });
  });
});

describe('cache: { enabled: false } (found from outside)', () => {
  // `tracing:` and `metrics:` are turned off with `enabled: false`; written so for the cache, the
  // error said only `cache.type: is required`, sending the user to pick a type for a cache they
  // meant to turn off. The cache section has no `enabled`: no cache is no `cache:` section.
  it('names cache.enabled and says to leave the section out, beside the missing type', () => {
    for (const text of ['cache: {enabled: false}', 'cache: {enabled: true, max_cost: 5}']) {
      assert.throws(
        () => loadConfigFromText(text, { env: {} }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.deepEqual(
            e.issues.map((i) => i.path),
            ['cache.type', 'cache.enabled'],
          );
          assert.match(
            e.issues[1]!.message,
            /^is not a field of the cache section: for no cache, leave the `cache:` section out/,
          );
          return true;
        },
      );
    }
    assert.deepEqual(loadConfigFromText('service: {name: users}', { env: {} }).cache, undefined);
  });
});
