import { cacheConformance } from '../../conformance/cache.js';
import { memoryUnderTest } from '../../conformance/caches.js';

// The byte face. The synchronous face (`cache.sync`, `createSyncMemoryCache`) is not a `Cache`:
// it answers synchronously, takes `{ ttl, cost }` options and has no getMany/setMany; cache.test.ts
// covers it.
cacheConformance(
  'memory (byte face)',
  // The model found issue 13 item 1 here (a load stored over a set that began while it ran).
  { stores: true, closable: true },
  memoryUnderTest,
);
