import { cacheConformance } from '../conformance/cache.js';
import { noopUnderTest } from '../conformance/caches.js';

// The no-op cache keeps nothing and has no close(); it checks its input like every other cache.
cacheConformance(
  'noop',
  {
    stores: false,
    closable: false,
  },
  noopUnderTest,
);
