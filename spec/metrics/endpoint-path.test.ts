import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { metricsSection } from '../../lib/config/sections/metrics.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const quiet = { logger: { warn() {} } };

// The endpoint compares the request's path as it arrives — percent-encoded, dot segments as the
// client sent them — with the configured one. A path with a non-ASCII or control character
// ("/métriques") or a "." / ".." segment was taken, metrics.address.url showed it, and every
// scrape was a 404 (Prometheus sends "/m%C3%A9triques"; curl and fetch remove dot segments).
describe('prometheus metrics: endpoint path', () => {
  for (const path of ['/métriques', '/m\u0000', '/a\tb', '/x/../metrics', '/./metrics', '/metrics/..'])
    it(`path ${JSON.stringify(path)} is refused at creation, and in the config section`, () => {
      assert.throws(() => createMetrics({ ...quiet, path }), {
        name: 'MetricsError',
        code: 'invalid_option',
      });
      assert.equal(v.safeParse(metricsSection, { path }).success, false);
    });

  it('the percent-encoded form of a non-ASCII path is served', async () => {
    const m = createMetrics({ ...quiet, port: 0, path: '/m%C3%A9triques' });
    const { url } = (await m.listen())!;
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await fetch(url.replace('/m%C3%A9triques', '/métriques'))).status, 200);
    await m.close();
  });

  for (const path of ['/metrics', '/', '/a/b.c/metrics', '/..metrics', '/a%20b', '/metrics/'])
    it(`path ${JSON.stringify(path)} is still taken`, async () => {
      const m = createMetrics({ ...quiet, path });
      assert.equal(v.safeParse(metricsSection, { path }).success, true);
      await m.close();
    });
});
