/**
 * A part of a tiered cache that fails to close (an L2, bus or tracker of your own whose close()
 * rejects) made close() reject with a bare AggregateError: no `code`, where every Hyperion error
 * has one, and the message "tiered cache: close failed" did not say which part. Found from
 * outside with a custom L2 whose close() threw "pool already ended". It is now a CloseError
 * (code `close_failed`, as app.close() reports its disposers) naming the parts, each entry a
 * `dispose_failed` HyperionError whose cause is what the part threw; the other parts still close.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { InvalidationBus } from '../../../lib/core/contracts.js';
import { CloseError, HyperionError } from '../../../lib/core/index.js';
import { busHub, fakeCache } from './fakes.js';

it('close(): a part whose close() rejects gives a CloseError naming it, its error as cause', async () => {
  const l1 = createMemoryCache({ maxCost: 1_000_000 });
  const l2 = fakeCache('l2');
  const l2Error = new Error('pool already ended');
  l2.close = async () => {
    throw l2Error;
  };
  const inner = busHub().bus();
  const busError = new TypeError('bus gone');
  const bus: InvalidationBus = {
    publish: (m) => inner.publish(m),
    subscribe: (a, b, c) => inner.subscribe(a, b, c),
    close: async () => {
      await inner.close();
      throw busError;
    },
  };
  const cache = createTieredCache({ l1, l2, bus });
  await cache.set('k', new Uint8Array([1]));
  const err = await cache.close().then(
    () => assert.fail('close() must reject'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CloseError, `expected a CloseError, got ${String(err)}`);
  assert.ok(err instanceof AggregateError);
  assert.equal(err.code, 'close_failed');
  assert.match(err.message, /^tiered cache: close failed: /);
  assert.match(err.message, /\bl2\b/);
  assert.match(err.message, /\bbus\b/);
  assert.equal(err.errors.length, 2);
  const causes = new Map<unknown, HyperionError>();
  for (const e of err.errors) {
    assert.ok(e instanceof HyperionError, `expected a HyperionError entry, got ${String(e)}`);
    assert.equal(e.code, 'dispose_failed');
    causes.set(e.cause, e);
  }
  assert.match(causes.get(l2Error)?.message ?? '', /closing l2 failed/);
  assert.match(causes.get(busError)?.message ?? '', /closing bus failed/);
  // L1 was closed all the same.
  await assert.rejects(l1.get('k'), (e: HyperionError) => e.code === 'closed');
});
