/**
 * A duration written with a decimal in seconds, minutes or hours is the whole number of
 * milliseconds it names: `1.005s` is 1005 ms, not `1.005 * 1000` = 1004.9999999999999 (so a field
 * taking whole ms, `lease.ttl`, refused it), and `0.07h` is 252,000 ms, not 252000.00000000003
 * (a Redis `default_ttl` sent as `PX 252001`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText, redisOptionsFromConfig } from '../../lib/config/index.js';
import { parseDuration } from '../../lib/config/primitives.js';

const TIERED = 'l1: {type: memory, max_cost: 100}, l2: {type: redis, addresses: ["a:1"]}';

describe('config: decimal durations', () => {
  it('a whole number of ms written in s, m or h is accepted by a field taking whole ms', () => {
    for (const [text, ms] of [
      ['1.005s', 1005],
      ['2.01m', 120_600],
      ['0.55h', 1_980_000],
    ] as const) {
      const config = loadConfigFromText(
        `cache: {type: tiered, lease: {enabled: true, ttl: ${text}}, ${TIERED}}`,
        { env: {} },
      );
      assert.equal((config.cache as { lease?: { ttl?: number } }).lease?.ttl, ms, text);
    }
  });

  it('a TTL written in hours is the exact number of ms (what the Redis cache sends as PX)', () => {
    const config = loadConfigFromText('cache: {type: redis, addresses: ["a:1"], default_ttl: 0.07h}', {
      env: {},
    });
    assert.equal(redisOptionsFromConfig(config.cache as never).defaultTtl, 252_000);
  });

  it('every value with up to 3 decimals below 10 s, and 2 below 10 m and 10 h, is exact', () => {
    for (let n = 1; n < 10_000; n++) {
      const s = String(n / 1000);
      assert.equal(parseDuration(`${s}s`), n, `${s}s`);
    }
    for (let n = 1; n < 1000; n++) {
      const s = String(n / 100);
      assert.equal(parseDuration(`${s}m`), n * 600, `${s}m`);
      assert.equal(parseDuration(`${s}h`), n * 36_000, `${s}h`);
    }
    // Sub-millisecond parts stay as written.
    assert.equal(parseDuration('0.0001s'), 0.1);
    assert.equal(parseDuration('0.5ms'), 0.5);
  });
});
