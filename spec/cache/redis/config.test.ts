import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from 'iovalkey';
import { parse as parseYaml } from 'yaml';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { validateConfig } from '../../../lib/config/load.js';
import { redisOptionsFromConfig, redisSection } from '../../../lib/config/sections/redis.js';
import { ConfigError } from '../../../lib/core/errors.js';

const ORIGINAL = `
type: redis
mode: standalone
addresses:
  - localhost:6379
password: ""
db: 0
pool_size: 1
min_idle_conns: 1
dial_timeout: 5s
read_timeout: 3s
write_timeout: 2500ms
cluster:
  max_redirects: 3
  read_only: false
sentinel:
  master_name: mymaster
  sentinel_addresses:
    - localhost:26379
key_prefix: "app:"
`;

function issuesOf(input: unknown) {
  try {
    validateConfig(redisSection, input, 'cache');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

describe('redis config section', () => {
  it('maps the original YAML keys to factory options', () => {
    const section = validateConfig(redisSection, parseYaml(ORIGINAL), 'cache');
    const o = redisOptionsFromConfig(section);
    assert.deepEqual(o, {
      mode: 'standalone',
      addresses: ['localhost:6379'],
      db: 0,
      poolSize: 1,
      minIdleConns: 1,
      dialTimeout: 5000,
      readTimeout: 3000,
      writeTimeout: 2500,
      cluster: { maxRedirects: 3, readOnly: false },
      sentinel: { masterName: 'mymaster', sentinelAddresses: ['localhost:26379'] },
      keyPrefix: 'app:',
    });
    assert.equal(o.password, undefined, 'empty password = none');
    // the factory accepts what the mapping produces (lazy, so nothing connects)
    const cache = createRedisCache({ ...o, minIdleConns: 0 });
    return cache.close();
  });

  it('maps tls, sentinel password and auto-pipelining', () => {
    const o = redisOptionsFromConfig(
      validateConfig(redisSection, {
        type: 'redis',
        mode: 'sentinel',
        sentinel: { master_name: 'm', password: 'sp' },
        tls: { server_name: 'redis.internal', reject_unauthorized: false },
        auto_pipelining: true,
        default_ttl: '1m',
        command_timeout: 750,
      }),
    );
    assert.deepEqual(o.tls, { servername: 'redis.internal', rejectUnauthorized: false });
    assert.equal(o.sentinel?.password, 'sp');
    assert.equal(o.autoPipelining, true);
    assert.equal(o.defaultTtl, 60_000);
    assert.equal(o.commandTimeout, 750);
  });

  it('reports every bad field with its path, without echoing secrets', () => {
    const issues = issuesOf({
      type: 'redis',
      mode: 'sentinel',
      addresses: ['nope'],
      password: 42,
      pool_size: 10,
      min_idle_conns: 5,
      dial_timeout: 'soon',
      cluster: { max_redirect: 3 },
      sentinel: {},
    });
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, [
      'addresses.0',
      'cluster.max_redirect',
      'dial_timeout',
      'min_idle_conns',
      'password',
      'pool_size',
      'sentinel.master_name',
    ]);
    assert.match(issues.find((i) => i.path === 'pool_size')!.message, /one connection/);
    assert.ok(!JSON.stringify(issues).includes('42'));
  });

  it('refuses a command timeout too short for the write deadline (every write would be refused)', () => {
    // Writes carry a server-side deadline ≥ 5 ms (+ the clock error) before the command timeout:
    // with commandTimeout 5 every set failed with "reached Redis after its deadline", however fast.
    const refused = (options: Record<string, unknown>, path: string) => {
      assert.throws(
        () => createRedisCache({ minIdleConns: 0, ...options }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.some((i) => i.path === path && /at least 10 ms/.test(i.message)),
      );
    };
    refused({ commandTimeout: 5 }, 'commandTimeout');
    refused({ commandTimeout: 9.5 }, 'commandTimeout');
    refused({ readTimeout: 4, writeTimeout: 6 }, 'writeTimeout');
    refused({ readTimeout: 8, writeTimeout: 2 }, 'readTimeout');
    for (const options of [
      { commandTimeout: 10 },
      { readTimeout: 5, writeTimeout: 50 },
      { readTimeout: 5 },
    ]) {
      const cache = createRedisCache({ minIdleConns: 0, ...options });
      void cache.close();
    }
  });

  it('bounds read/write timeouts as the factory does: only the larger must be at least 10 ms', () => {
    // The section required each of read_timeout and write_timeout to be >= 10 ms, so
    // `read_timeout: 5` (write 3 s by default) was refused although createRedisCache accepts
    // `readTimeout: 5`: the bound applied is the larger of the two, or command_timeout.
    for (const fields of [
      { read_timeout: 5 },
      { write_timeout: '5ms' },
      { read_timeout: 5, write_timeout: 50 },
      { read_timeout: 1, write_timeout: 1, command_timeout: 10 },
    ]) {
      const section = validateConfig(redisSection, { type: 'redis', min_idle_conns: 0, ...fields }, 'cache');
      const cache = createRedisCache(redisOptionsFromConfig(section));
      void cache.close();
    }
    const refusedAt = (fields: Record<string, unknown>, path: string) => {
      const issues = issuesOf({ type: 'redis', ...fields });
      assert.deepEqual(
        issues.map((i) => i.path),
        [path],
      );
      assert.match(issues[0]?.message ?? '', /at least 10 ms/);
    };
    refusedAt({ read_timeout: 4, write_timeout: 6 }, 'write_timeout');
    refusedAt({ read_timeout: 8, write_timeout: '2ms' }, 'read_timeout');
    // A value refused by its own field is reported once, there.
    assert.deepEqual(
      issuesOf({ type: 'redis', read_timeout: '10' }).map((i) => i.path),
      ['read_timeout'],
    );
  });

  // Two caches with prefixes 'a\uD800:' and 'a\uDBFF:' wrote to one namespace on the server
  // (both sent as 'a\uFFFD:'): each read the other's keys, and clear() of one removed both.
  it('refuses auto-pipelining on a cluster (iovalkey reads keys of a migrating slot as misses)', () => {
    // Found by a live slot migration under load: iovalkey re-sent an auto-pipeline answered in
    // part with ASK whole to the import target, and a key not moved yet read as a miss.
    const refused = (f: () => unknown, path: string) => {
      let made: unknown;
      try {
        made = f();
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        const issue = err.issues.find((i) => i.path === path);
        assert.match(issue?.message ?? '', /slot being migrated/, err.message);
        return;
      }
      // Accepted (the old code): close what was made, so the test fails instead of hanging.
      void (made as { close?: () => Promise<void> })?.close?.().catch(() => {});
      assert.fail(`${path}: auto-pipelining on a cluster was accepted`);
    };
    refused(
      () => createRedisCache({ mode: 'cluster', addresses: ['127.0.0.1:7000'], autoPipelining: true }),
      'autoPipelining',
    );
    const injected = new Cluster([{ host: '127.0.0.1', port: 7000 }], {
      lazyConnect: true,
      enableAutoPipelining: true,
    });
    try {
      refused(() => createRedisCache({ client: injected }), 'client');
    } finally {
      injected.disconnect();
    }
    refused(
      () =>
        validateConfig(redisSection, {
          type: 'redis',
          mode: 'cluster',
          addresses: ['127.0.0.1:7000'],
          auto_pipelining: true,
        }),
      'auto_pipelining',
    );
    // Where no slot migrates, it stays available.
    const standalone = createRedisCache({
      addresses: ['127.0.0.1:6379'],
      autoPipelining: true,
      minIdleConns: 0,
    });
    void standalone.close();
    const ok = validateConfig(redisSection, {
      type: 'redis',
      mode: 'cluster',
      addresses: ['127.0.0.1:7000'],
      auto_pipelining: false,
    });
    assert.equal(redisOptionsFromConfig(ok).autoPipelining, false);
  });

  it('refuses a keyPrefix that is not well-formed UTF-16', () => {
    for (const keyPrefix of ['a\uD800:', 'a\uDBFF:', '\uDC00']) {
      assert.throws(
        () => createRedisCache({ keyPrefix, minIdleConns: 0 }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.some((i) => i.path === 'keyPrefix' && /lone surrogate/.test(i.message)),
      );
    }
    // Well-formed ones (astral characters are surrogate pairs) stay accepted.
    return createRedisCache({ keyPrefix: 'app:😀:', minIdleConns: 0 }).close();
  });

  // `client: {}` / `null` / a URL threw a bare TypeError (reading isCluster / options.keyPrefix);
  // `ownClient: 'yes'` was read as false (the client left open after close()); a logger without
  // `warn` was taken and crashed the process with an uncaught TypeError at the first connection
  // error; `sentinel: 5` was ignored. Each is now a ConfigError naming the option.
  it('refuses a malformed client, ownClient, logger or cluster/sentinel section with a ConfigError', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ client: {} }, 'client'],
      [{ client: null }, 'client'],
      [{ client: 'redis://127.0.0.1:6379' }, 'client'],
      [{ ownClient: 'yes' }, 'ownClient'],
      [{ logger: {} }, 'logger'],
      [{ logger: { info() {} } }, 'logger'],
      [{ cluster: null }, 'cluster'],
      [{ sentinel: 5 }, 'sentinel'],
    ];
    for (const [options, path] of cases) {
      assert.throws(
        () => createRedisCache({ minIdleConns: 0, ...options }),
        (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path === path),
        JSON.stringify(options),
      );
    }
    // A logger with warn only (the one method the cache calls) and console stay accepted.
    for (const logger of [{ warn() {} }, console, null]) {
      await createRedisCache({ minIdleConns: 0, logger: logger as never, ownClient: false }).close();
    }
  });

  it('names the likely mode for a misspelt one, as the config does', () => {
    // It said "unknown mode (… received string)"; the config's section says "did you mean".
    for (const [mode, meant] of [
      ['Sentinel', 'sentinel'],
      ['clustr', 'cluster'],
      ['standlone', 'standalone'],
    ] as const) {
      assert.throws(
        () => createRedisCache({ minIdleConns: 0, mode: mode as never }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.length === 1 &&
          err.issues[0]!.path === 'mode' &&
          err.issues[0]!.message.includes(`did you mean \`${meant}\`?`),
        mode,
      );
    }
  });

  it('refuses options that are not an object, an array included (it was taken as every default)', () => {
    // `createRedisCache(['10.0.0.5:6379'])` made a cache of 127.0.0.1:6379, the address ignored.
    for (const options of [['10.0.0.5:6379'], [], null, 'redis://10.0.0.5:6379']) {
      assert.throws(
        () => createRedisCache(options as never),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.length === 1 &&
          err.issues[0]!.path === '' &&
          err.issues[0]!.message === 'not an object',
        JSON.stringify(options),
      );
    }
  });

  it('checks cross-field rules', () => {
    assert.deepEqual(
      issuesOf({ type: 'redis', mode: 'cluster', db: 3 }).map((i) => i.path),
      ['db'],
    );
    assert.deepEqual(
      issuesOf({ type: 'redis', addresses: ['a:1', 'b:2'] }).map((i) => i.path),
      ['addresses'],
    );
    assert.deepEqual(
      issuesOf({ type: 'redis', mode: 'sentinel', sentinel: { sentinel_addresses: ['s:26379'] } }).map(
        (i) => i.path,
      ),
      ['sentinel.master_name'],
    );
    assert.doesNotThrow(() =>
      validateConfig(redisSection, { type: 'redis', mode: 'cluster', addresses: ['a:1', 'b:2', 'c:3'] }),
    );
  });
});
