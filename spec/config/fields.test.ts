/** Field-level wording and values that would validate but leave a part unusable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

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
