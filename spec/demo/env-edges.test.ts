/** The demo's environment variables with malformed values (session-5 audit): errors name the variable that was set. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readEnv, redisOptionsFromUrl } from '../../demo/env.js';

describe('demo environment: malformed values', () => {
  it('a bad OTEL_TRACES_SAMPLER_ARG is reported under its own name (not HYPERION_SAMPLE_RATE)', () => {
    assert.throws(
      () => readEnv({ OTEL_TRACES_SAMPLER_ARG: '2' }),
      (e: Error) => /OTEL_TRACES_SAMPLER_ARG/.test(e.message) && !/HYPERION_SAMPLE_RATE/.test(e.message),
    );
    assert.throws(
      () => readEnv({ HYPERION_SAMPLE_RATE: 'x', OTEL_TRACES_SAMPLER_ARG: '0.5' }),
      /HYPERION_SAMPLE_RATE/,
    );
  });

  it('REDIS_URL with a malformed percent-escape in its credentials names REDIS_URL, never the password', () => {
    for (const url of ['redis://:p%zzsekrit@h:6379', 'redis://us%zzer:sekrit@h:6379'])
      assert.throws(
        () => redisOptionsFromUrl(url),
        (e: Error) => /REDIS_URL/.test(e.message) && !e.message.includes('sekrit'),
      );
  });
});
