/**
 * Two copies of the package in one process (two versions installed side by side: the
 * application's and a library's nested one), each with an adapter using `collectRuntime` on one
 * injected registry. Each copy kept its own record of the runtime metrics and of the adapters
 * using them, so closing the first copy's adapter took the `process_*` / `nodejs_*` series out of
 * the registry the second copy's open adapter still served (the fix of this for two adapters of
 * one copy did not hold across copies), and each copy started a runtime set of its own. That
 * record is now process-wide.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import * as first from '../../lib/metrics/prometheus/index.js';
import { type SecondCopy, secondCopy } from '../harness/second-copy.js';

let copy: SecondCopy;
let second: typeof first;
before(async () => {
  copy = await secondCopy();
  second = (await import(pathToFileURL(join(copy.lib, 'metrics/prometheus/index.ts')).href)) as typeof first;
});
after(() => copy.remove());

it("closing one copy's adapter leaves the runtime metrics to the other copy's on the same registry", async () => {
  const registry = new Registry();
  const a = first.createMetrics({ collectRuntime: true, namespace: 'a', registry });
  const b = second.createMetrics({ collectRuntime: true, namespace: 'b', registry });
  try {
    assert.match((await b.render()).body, /^process_cpu_user_seconds_total /m);
    await a.close();
    const body = (await b.render()).body;
    assert.match(body, /^process_cpu_user_seconds_total /m, 'the runtime series stay while b is open');
    assert.match(body, /^nodejs_eventloop_lag_seconds /m);
    assert.match(await registry.metrics(), /^process_cpu_user_seconds_total /m);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  // The last user closed: the registry is handed back without them.
  assert.doesNotMatch(await registry.metrics(), /process_cpu_user_seconds_total/);
});
