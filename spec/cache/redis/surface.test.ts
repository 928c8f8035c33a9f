import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as entry from '../../../lib/cache/redis/index.js';

describe('hyperion/cache/redis entry', () => {
  it('exports only what a user calls (types are erased); internals stay in their modules', () => {
    assert.deepEqual(Object.keys(entry).sort(), [
      'aclRules',
      'createRedisCache',
      'createRedisInvalidationBus',
      'createRedisLease',
      'createRedisTracking',
      'retryTransaction',
      'sentinelAclRules',
    ]);
  });
});
