/**
 * A tiered cache whose Redis L2 reads from replicas (`mode: cluster`, `cluster.read_only: true`)
 * with the invalidation bus alone (mode `bus`, the default) is a combination `createTieredCache`
 * refuses. The file loaded, and `createAppFromConfig` failed only later, naming the factory option
 * `bus` (a name the file does not have) after the tracer, the /metrics endpoint and the Redis
 * connection were built. It is now a load error at `cache.invalidation.mode`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAppFromConfig, loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const yaml = (invalidation: string) =>
  [
    'cache:',
    '  type: tiered',
    '  l1: { type: memory, max_cost: 1000 }',
    '  l2: { type: redis, mode: cluster, addresses: ["127.0.0.1:7000"], cluster: { read_only: true } }',
    invalidation ? `  invalidation: ${invalidation}` : '',
  ].join('\n');

const paths = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => i.path);
  }
  return [];
};

describe('config: a bus alone over an L2 reading from replicas', () => {
  it('is refused at load, at cache.invalidation.mode (also when mode is the default)', () => {
    for (const inv of ['', '{ mode: bus }', '{ channel: "app:inv" }']) {
      assert.deepEqual(
        paths(() => loadConfigFromText(yaml(inv), { env: {} })),
        ['cache.invalidation.mode'],
        inv,
      );
    }
    const err = (() => {
      try {
        loadConfigFromText(yaml(''), { env: {} });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    assert.match(err!.message, /cache\.l2\.cluster\.read_only/);
    assert.match(err!.message, /both or tracking/);
  });

  it('is refused when set by an environment variable, naming it', () => {
    const text = yaml('').replace(', cluster: { read_only: true }', ', cluster: {}');
    assert.deepEqual(
      paths(() => loadConfigFromText(text, { env: {} })),
      [],
    );
    assert.throws(
      () => loadConfigFromText(text, { env: { HYPERION__CACHE__L2__CLUSTER__READ_ONLY: 'true' } }),
      (e: unknown) => e instanceof ConfigError && e.issues[0]?.path === 'cache.invalidation.mode',
    );
  });

  it('loads with tracking beside or instead of the bus, or without invalidation', () => {
    for (const inv of ['{ mode: both }', '{ mode: tracking }', '{ enabled: false }'])
      assert.deepEqual(
        paths(() => loadConfigFromText(yaml(inv), { env: {} })),
        [],
        inv,
      );
    const masters = yaml('').replace('read_only: true', 'read_only: false');
    assert.deepEqual(
      paths(() => loadConfigFromText(masters, { env: {} })),
      [],
    );
  });

  it('createAppFromConfig refuses such an object before building anything, at the file field', async () => {
    const config = {
      metrics: { port: 0 },
      cache: {
        type: 'tiered',
        l1: { type: 'memory', max_cost: 1000 },
        l2: { type: 'redis', mode: 'cluster', addresses: ['127.0.0.1:7000'], cluster: { read_only: true } },
      },
    };
    assert.deepEqual(
      paths(() => parseConfig(config)),
      ['cache.invalidation.mode'],
    );
    await assert.rejects(
      // biome-ignore lint/suspicious/noExplicitAny: an object as a user writes it in code
      createAppFromConfig(config as any),
      (e: unknown) =>
        e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === 'cache.invalidation.mode',
    );
  });
});
