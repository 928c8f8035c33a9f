import { cacheConformance } from '../conformance/cache.js';
import { noopUnderTest } from '../conformance/caches.js';

// The no-op cache keeps nothing and has no close(). Its input checks are incomplete
// (lib/core/noop.ts): the two gaps below run as `todo` until it checks like the other caches.
cacheConformance(
  'noop',
  {
    stores: false,
    closable: false,
    gaps: {
      ttl: 'noop setMany does not check ttls',
      value: 'noop set, setMany and getOrSet do not check that values are bytes',
    },
  },
  noopUnderTest,
);
