import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as entry from '../../lib/metrics/prometheus/index.js';

describe('prometheus metrics: public entry', () => {
  it('exports createMetrics and nothing else at runtime (internals are imported from their modules)', () => {
    assert.deepEqual(Object.keys(entry).sort(), ['createMetrics']);
  });
});
