/**
 * Two audit findings (2026-12-03):
 * - `HYPERION__TRACING.SAMPLE_RATE` (a `.` where `__` was meant) was reported as
 *   `tracing.sample_rate: is not a known field (expected one of the fields service, logging, …)`:
 *   the path read like the right one. The issue now names the variable and the form that is read.
 * - Text holding a lone UTF-16 surrogate (`"\ud800"` in a JSON or YAML file, an object given to
 *   `parseConfig`, an `env` option) was accepted: it cannot be encoded as UTF-8, so a password or
 *   service name would be sent as U+FFFD, silently not what was written. It is now an issue with
 *   its path, never the value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('config: an override name with `.` instead of `__`', () => {
  it('names the variable and the form that is read', () => {
    const err = configError(() =>
      loadConfigFromText('', { env: { 'HYPERION__TRACING.SAMPLE_RATE': '0.5' } }),
    );
    assert.equal(err.issues.length, 1);
    const [i] = err.issues;
    assert.equal(i!.path, 'HYPERION__TRACING.SAMPLE_RATE');
    assert.match(i!.message, /^environment variable HYPERION__TRACING\.SAMPLE_RATE: /);
    assert.match(i!.message, /did you mean HYPERION__TRACING__SAMPLE_RATE\?/);
    assert.match(i!.expected, /HYPERION__SECTION__FIELD/);
    assert.match(err.message, /\(1 from environment variables\)/);
  });

  it('deeper in the path, and never the value of a secret', () => {
    const err = configError(() =>
      loadConfigFromText('cache: {type: redis, addresses: ["a:1"]}\n', {
        env: { 'HYPERION__CACHE.PASSWORD': 'hunter2', 'HYPERION__TRACING__BATCH.MAX_QUEUE_SIZE': '3' },
      }),
    );
    const paths = err.issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['HYPERION__CACHE.PASSWORD', 'HYPERION__TRACING__BATCH.MAX_QUEUE_SIZE']);
    assert.match(err.message, /did you mean HYPERION__CACHE__PASSWORD\?/);
    assert.match(err.message, /did you mean HYPERION__TRACING__BATCH__MAX_QUEUE_SIZE\?/);
    assert.doesNotMatch(err.message, /hunter2/);
  });

  it('a dot inside a free-form key (an attribute name) is still a key', () => {
    const c = loadConfigFromText('', {
      env: { 'HYPERION__TRACING__ATTRIBUTES__DEPLOYMENT.ENVIRONMENT': 'prod' },
    });
    assert.deepEqual(c.tracing?.attributes, { 'deployment.environment': 'prod' });
  });
});

describe('config: text with a lone UTF-16 surrogate', () => {
  it('in a YAML or JSON file: an issue with its path', () => {
    for (const [text, format] of [
      ['service: {name: "a\\ud800b"}\n', 'yaml'],
      ['{"service": {"name": "a\\udc00b"}}', 'json'],
    ] as const) {
      const err = configError(() => loadConfigFromText(text, { format }));
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ['service.name'],
      );
      assert.match(err.issues[0]!.message, /lone UTF-16 surrogate/);
    }
  });

  it('a pair (an emoji) is text', () => {
    const c = loadConfigFromText('service: {name: "a\\ud83d\\ude00b"}\n');
    assert.equal(c.service?.name, 'a\u{1F600}b');
  });

  it('a password set by a variable, or in an object: path and variable named, value never shown', () => {
    const env = configError(() =>
      loadConfigFromText('cache: {type: redis, addresses: ["a:1"]}\n', {
        env: { HYPERION__CACHE__PASSWORD: 'hunter\ud800two' },
      }),
    );
    assert.equal(env.issues[0]!.path, 'cache.password');
    assert.match(env.issues[0]!.message, /set by environment variable HYPERION__CACHE__PASSWORD/);
    assert.doesNotMatch(env.message, /hunter/);
    const obj = configError(() =>
      parseConfig({ cache: { type: 'redis', addresses: ['a:1'], password: 'hunter\udfffthree' } }),
    );
    assert.deepEqual(
      obj.issues.map((i) => i.path),
      ['cache.password'],
    );
    assert.doesNotMatch(obj.message, /hunter/);
  });

  it('in a key', () => {
    const err = configError(() =>
      loadConfigFromText('{"tracing": {"attributes": {"k\\udc00": "v"}}}', { format: 'json' }),
    );
    assert.equal(err.issues.length, 1);
    assert.match(err.issues[0]!.path, /^tracing\.attributes\./);
    assert.match(err.issues[0]!.received, /a key with a lone surrogate/);
  });
});

// An empty key (`"": x`, or a null key `~: x`, which YAML reads as "") was shown as nothing: its
// issue read `(root): is not a known field` at the top level — blaming the whole file — and
// `cache.: …` below it.
describe('config: an empty key', () => {
  it('is shown as "" in its path, at the top level and below it, in YAML and JSON', () => {
    assert.deepEqual(
      configError(() => loadConfigFromText('"": 1\ntracing: {}\n', { env: {} })).issues.map((i) => i.path),
      ['""'],
    );
    assert.deepEqual(
      configError(() =>
        loadConfigFromText('cache:\n  type: memory\n  max_cost: 10\n  ~: 1\n', { env: {} }),
      ).issues.map((i) => i.path),
      ['cache.""'],
    );
    const json = configError(() =>
      loadConfigFromText('{"tracing": {"attributes": {"": "v"}}}', { env: {}, format: 'json' }),
    );
    assert.deepEqual(
      json.issues.map((i) => i.path),
      ['tracing.attributes.""'],
    );
    assert.match(json.message, /^ {2}- tracing\.attributes\."": /m);
  });
});
