import { cacheConformance } from '../../conformance/cache.js';
import { memoryUnderTest } from '../../conformance/caches.js';

// The byte face. The synchronous face (`cache.sync`, `createSyncMemoryCache`) is not a `Cache`:
// it answers synchronously, takes `{ ttl, cost }` options and has no getMany/setMany; cache.test.ts
// covers it.
cacheConformance(
  'memory (byte face)',
  // The model finds issue 13 item 1 here (a load stores over a set that began while it ran): a
  // memory-cache item, fixed separately; until then the model test runs as todo.
  { stores: true, closable: true, gaps: { model: 'memory items of issue 13' } },
  memoryUnderTest,
);
