import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogFields } from '../../lib/core/contracts.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

// A watched cache whose stats() reports a count that cannot be turned into a string (a
// null-prototype object, a revoked Proxy, an object whose toString throws): the warning built
// for it threw, that error left the collection, and every scrape failed while the cache said so.
describe('prometheus metrics: watchCache with counts that cannot be printed', () => {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const odd: [string, unknown][] = [
    ['a null-prototype object', Object.create(null)],
    ['a revoked Proxy', revoked.proxy],
    [
      'an object whose toString throws',
      {
        toString() {
          throw new Error('no');
        },
      },
    ],
  ];
  for (const [what, value] of odd) {
    it(`hits as ${what}: warned once, every scrape still answers`, async () => {
      const warnings: { message: string; fields?: LogFields }[] = [];
      const logger = { warn: (message: string, fields?: LogFields) => warnings.push({ message, fields }) };
      const metrics = createMetrics({ logger });
      try {
        metrics.watchCache({
          name: 'odd',
          stats: () => ({ hits: value, misses: 3, hitRatio: 0, size: 0 }) as never,
        });
        for (let i = 0; i < 2; i++) {
          const { body } = await metrics.render();
          assert.match(body, /cache="odd",result="miss"\} 3/);
        }
        const counts = warnings.filter((w) => w.message.includes('reported hits'));
        assert.equal(counts.length, 1);
        assert.match(counts[0]!.message, /not a count/);
      } finally {
        await metrics.close();
      }
    });
  }
});
