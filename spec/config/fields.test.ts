/** Field-level wording and values that would validate but leave a part unusable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

function issuesOf(text: string, env: Record<string, string> = {}) {
  try {
    loadConfigFromText(text, { env });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues;
  }
  assert.fail('expected a ConfigError');
}

describe('config: a missing required field says so in plain words', () => {
  it('cache.max_cost and cache.type missing: "is required", never "expected a valid value" or "a mapping"', () => {
    // Before: `cache.max_cost: is required (expected a valid value, …)` and
    // `cache.type: is required (expected a mapping, …)` — validator words, and the wrong thing.
    const a = issuesOf('cache: {type: memory}\n').find((i) => i.path === 'cache.max_cost');
    assert.equal(a?.message, 'is required');
    assert.doesNotMatch(a!.expected, /valid value|mapping/);
    const b = issuesOf('cache: {max_cost: 1}\n').find((i) => i.path === 'cache.type');
    assert.equal(b?.message, 'is required');
    assert.doesNotMatch(b!.expected, /valid value|mapping/);
  });
});

describe('metrics.path: a path the endpoint could never match is refused', () => {
  // The endpoint compares the request path without its query with `path`: a `?`, `#` or space in
  // `path` made every scrape a 404.
  for (const path of ['/metrics?x=1', '/metrics#a', '/my metrics'])
    it(`${JSON.stringify(path)}: ConfigError at metrics.path, MetricsError from createMetrics`, () => {
      const issues = issuesOf(`metrics: {path: ${JSON.stringify(path)}}\n`);
      assert.ok(issues.some((i) => i.path === 'metrics.path'));
      assert.throws(() => createMetrics({ path, logger: { warn() {} } }), { code: 'invalid_option' });
    });
});

describe('host-like fields: a blank host is refused with its path', () => {
  // `metrics.host: " "` passed validation and only failed when the endpoint bound (ENOTFOUND).
  for (const host of [' ', '   ', '\t', 'local host', ' 127.0.0.1'])
    it(`metrics.host ${JSON.stringify(host)}: ConfigError at metrics.host, MetricsError from createMetrics`, () => {
      const issues = issuesOf(`metrics: {host: ${JSON.stringify(host)}}\n`);
      const issue = issues.find((i) => i.path === 'metrics.host');
      assert.ok(issue, JSON.stringify(issues));
      assert.match(issue.expected, /host name or address without spaces/);
      assert.throws(() => createMetrics({ host, logger: { warn() {} } }), { code: 'invalid_option' });
    });

  it('metrics.host "" and a blank one from the environment are refused the same way', () => {
    assert.ok(issuesOf('metrics: {host: ""}\n').some((i) => i.path === 'metrics.host'));
    const fromEnv = issuesOf('metrics: {port: 9464}\n', { HYPERION__METRICS__HOST: '  ' });
    const issue = fromEnv.find((i) => i.path === 'metrics.host');
    assert.match(issue?.message ?? '', /set by environment variable HYPERION__METRICS__HOST/);
  });

  it('TLS server_name (Redis and tracing) refuses a blank name; the factories do too', () => {
    const redis = issuesOf('cache: {type: redis, tls: {server_name: " "}}\n');
    assert.ok(
      redis.some((i) => i.path === 'cache.tls.server_name'),
      JSON.stringify(redis),
    );
    const tracing = issuesOf('tracing: {exporter: otlp, tls: {server_name: " "}}\n');
    assert.ok(
      tracing.some((i) => i.path === 'tracing.tls.server_name'),
      JSON.stringify(tracing),
    );
    const ok = loadConfigFromText('cache: {type: redis, tls: {server_name: redis.internal}}\n', { env: {} });
    assert.deepEqual((ok.cache as { tls?: unknown }).tls, { server_name: 'redis.internal' });
    assert.throws(
      () => createRedisCache({ tls: { servername: ' ' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.issues.some((i) => i.path === 'tls.servername'));
        return true;
      },
    );
    assert.throws(
      () => createOtelTracer({ serviceName: 's', exporter: 'memory', tls: { servername: '\t' } }),
      (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path === 'tls.servername'),
    );
  });

  it('well-formed hosts still pass: localhost, 0.0.0.0, ::, a DNS name', () => {
    for (const host of ['localhost', '0.0.0.0', '::', 'metrics.internal'])
      assert.equal(loadConfigFromText(`metrics: {host: "${host}"}\n`, { env: {} }).metrics?.host, host);
  });
});

describe('tracing resource attributes: a non-finite number is refused', () => {
  // Every span carries the resource: one NaN or infinity there made Jaeger's query API answer
  // HTTP 500 for each trace of the service (span attributes are converted instead: attributes.ts).
  it('in the config (.nan, .inf, -.inf, also in a list) and in createOtelTracer, naming the key', () => {
    const issues = issuesOf('tracing: {attributes: {a: .inf, b: [1, .nan], c: -.inf, ok: 1.5}}\n');
    assert.deepEqual(
      issues.map((i) => i.path),
      ['tracing.attributes.a', 'tracing.attributes.b', 'tracing.attributes.c'],
    );
    assert.match(issues[0]!.expected, /finite number/);
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, [1, Number.NEGATIVE_INFINITY]])
      assert.throws(
        () => createOtelTracer({ exporter: 'memory', attributes: { v, ok: 1.5 } }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues.length === 1 &&
          e.issues[0]?.path === 'attributes.v' &&
          /finite/.test(e.message),
      );
  });

  it('finite numbers still pass, alone and in lists', async () => {
    const c = loadConfigFromText(
      'tracing: {exporter: memory, attributes: {a: 1.5, b: [1, -0.5], c: 1e300}}\n',
    );
    assert.deepEqual(c.tracing?.attributes, { a: 1.5, b: [1, -0.5], c: 1e300 });
    await createOtelTracer({ exporter: 'memory', attributes: { a: 1.5, b: [1, -0.5] } }).close();
  });
});

describe('tracing resource attributes: an empty name is refused', () => {
  // OpenTelemetry drops an attribute whose name is empty: `"": x` was accepted and never reached a
  // span, without a word.
  it('in the config, naming the mapping', () => {
    const issues = issuesOf('tracing: {attributes: {"": x, ok: 1}}\n');
    assert.deepEqual(
      issues.map((i) => i.path),
      // The empty key is shown as `""` (it was nothing: `tracing.attributes.`).
      ['tracing.attributes.""'],
    );
    assert.match(issues[0]!.expected, /non-empty attribute name/);
    const c = loadConfigFromText('tracing: {attributes: {" ": x, ok: 1}}\n');
    assert.deepEqual(c.tracing?.attributes, { ' ': 'x', ok: 1 });
  });

  it('in createOtelTracer, as a ConfigError at attributes.', async () => {
    assert.throws(
      () => createOtelTracer({ exporter: 'memory', attributes: { '': 'x', ok: 1 } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.length === 1 &&
        e.issues[0]?.path === 'attributes.' &&
        /empty name/.test(e.message),
    );
    await createOtelTracer({ exporter: 'memory', attributes: { ' ': 'x' } }).close();
  });
});

describe('config: a Redis sentinel or cluster section without mode', () => {
  // Without `mode` the cache is standalone: a `sentinel:` section was ignored and the cache
  // connected to `addresses` (by default 127.0.0.1:6379) instead of asking the sentinels.
  it('is an error naming cache.mode; with mode written out (the original example lists both) it passes', () => {
    const sentinel = issuesOf(
      'cache:\n  type: redis\n  sentinel: { master_name: mymaster, sentinel_addresses: ["s1:26379"] }\n',
    );
    assert.deepEqual(
      sentinel.map((i) => [i.path, i.expected]),
      [['cache.mode', 'mode: sentinel, or mode: standalone to leave the section unused']],
    );
    const cluster = issuesOf(
      'cache: { type: redis, addresses: ["n1:7000"], cluster: { read_only: true } }\n',
    );
    assert.deepEqual(
      cluster.map((i) => i.path),
      ['cache.mode'],
    );
    const fromEnv = issuesOf('cache: { type: redis }\n', { HYPERION__CACHE__SENTINEL__MASTER_NAME: 'm' });
    assert.deepEqual(
      fromEnv.map((i) => i.path),
      ['cache.mode'],
    );
    // The original plan's example: both sections under mode: standalone.
    loadConfigFromText(
      [
        'cache:',
        '  type: redis',
        '  mode: standalone',
        '  addresses: [localhost:6379]',
        '  cluster: { max_redirects: 3, read_only: false }',
        '  sentinel: { master_name: mymaster, sentinel_addresses: [localhost:26379] }',
        '',
      ].join('\n'),
      { env: {} },
    );
    loadConfigFromText('cache: { type: redis }\n', {
      env: { HYPERION__CACHE__MODE: 'sentinel', HYPERION__CACHE__SENTINEL__MASTER_NAME: 'm' },
    });
  });
});

describe('config: a key that starts with an invisible character', () => {
  // A no-break space pasted as indentation, or a zero-width space, made a key whose path showed as
  // a bare "…" (only the name part of a key is shown, and it had none): nothing to look for.
  it('is shown by that character’s code point, never the rest of the key', () => {
    const issues = issuesOf(
      'tracing:\n  \u200bsample_rate: 0.5\n  \u00a0exporter: otlp\ncache:\n  type: redis\n  \u00a0password: S3CRET-nbsp\n',
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'cache.(U+00A0)…',
      'tracing.(U+00A0)…',
      'tracing.(U+200B)…',
    ]);
    assert.doesNotMatch(JSON.stringify(issues), /S3CRET/);
  });
});

describe('tracing.headers: one header named twice in different case', () => {
  // HTTP header names are case-insensitive. `{Authorization: A, authorization: B}` loaded without
  // a word and the exporter sent only one of the two (found from outside: a collector received
  // "Bearer B" alone), and so did a file's `Authorization` met by
  // HYPERION__TRACING__HEADERS__AUTHORIZATION (variable names are read in lower case).
  it('is an issue at the second name, naming the first; never a value', () => {
    const issues = issuesOf(
      'tracing: {headers: {Authorization: "Bearer S3CRET-a", x-team: t, authorization: "Bearer S3CRET-b"}}\n',
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.path, 'tracing.headers.authorization');
    assert.match(issues[0]!.message, /same header as `Authorization`/);
    assert.doesNotMatch(JSON.stringify(issues), /S3CRET/);
  });

  it('an environment variable replaces the header in any case (the usual production override)', () => {
    // HYPERION__TRACING__HEADERS__AUTHORIZATION is read as `authorization`: it overrides the file's
    // `Authorization` rather than adding a second header (or being refused as one).
    const config = loadConfigFromText(
      'tracing: {headers: {Authorization: "Bearer placeholder", x-team: b}}\n',
      {
        env: { HYPERION__TRACING__HEADERS__AUTHORIZATION: 'Bearer S3CRET-c' },
      },
    );
    assert.deepEqual({ ...config.tracing?.headers }, { 'x-team': 'b', authorization: 'Bearer S3CRET-c' });
  });

  it('distinct names still pass, and the environment replaces a lower-case header', () => {
    const config = loadConfigFromText('tracing: {headers: {authorization: a, x-team: b}}\n', {
      env: { HYPERION__TRACING__HEADERS__AUTHORIZATION: 'c' },
    });
    assert.deepEqual({ ...config.tracing?.headers }, { authorization: 'c', 'x-team': 'b' });
  });
});

describe('a value outside a field’s accepted values (found from outside)', () => {
  // `exporter: Jaeger`, `level: INFO`, `type: memroy`: the message named no value, while a
  // misspelt key is told the nearest one. The value given is never shown.
  it('names the accepted value meant, in any case or one or two edits away', () => {
    const cases: [string, string, string][] = [
      ['tracing: {exporter: Jaeger}', 'tracing.exporter', 'jaeger'],
      ['logging: {level: INFO}', 'logging.level', 'info'],
      ['cache: {type: memroy, max_cost: 5}', 'cache.type', 'memory'],
      ['cache: {type: redis, mode: Cluster, addresses: ["a:1"]}', 'cache.mode', 'cluster'],
    ];
    for (const [text, path, near] of cases)
      assert.throws(
        () => loadConfigFromText(text, { env: {} }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues.some(
            (i) =>
              i.path === path && i.message === `is not one of the accepted values; did you mean \`${near}\`?`,
          ),
      );
    assert.throws(
      () => loadConfigFromText('logging: {level: verbose}', { env: {} }),
      (e: unknown) =>
        e instanceof ConfigError && e.issues[0]!.message === 'is not one of the accepted values',
    );
  });
});
