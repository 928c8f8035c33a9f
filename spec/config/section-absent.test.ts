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
