/**
 * A field `observeRequest` / `observeHttpClient` does not have. Found from outside: a misspelt
 * `stauts: 200` (or Node's `statusCode`) was ignored, and the request was scraped as one cut off
 * before its response (no status, `error_type="aborted"`): a dashboard of failed requests counted
 * every such success; an extra label (`tenant`) was dropped without a word. Each is now
 * `MetricsError('invalid_label')` naming the field (and the nearest known one), nothing recorded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { freePort } from '../harness/process.js';

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return res.text();
}

describe('observeRequest / observeHttpClient: a field they do not have', () => {
  for (const naming of ['otel', 'legacy'] as const) {
    it(`observeRequest refuses a misspelt or extra field, naming it, and records nothing (naming: ${naming})`, async () => {
      const m = createMetrics({ naming, port: await freePort(), host: '127.0.0.1' });
      try {
        const { url } = (await m.listen())!;
        const cases: [Record<string, unknown>, RegExp][] = [
          [{ stauts: 200 }, /`stauts` is not a known field; did you mean `status`\?/],
          [{ status: 200, tenant: 'a' }, /`tenant` is not a known field/],
          [{ statusCode: 200 }, /`statusCode` is not a known field/],
        ];
        for (const [extra, message] of cases) {
          assert.throws(
            () => m.observeRequest({ method: 'GET', route: '/users/:id', seconds: 0.01, ...extra } as never),
            (e: unknown) =>
              e instanceof MetricsError &&
              e.code === 'invalid_label' &&
              /^observeRequest: /.test(e.message) &&
              message.test(e.message),
            JSON.stringify(extra),
          );
        }
        const body = await scrape(url);
        assert.doesNotMatch(body, /\/users\/:id/, 'a refused observation was recorded');
        assert.doesNotMatch(body, /aborted|499/);
        // The fields it has are still taken.
        m.observeRequest({ method: 'GET', route: '/users/:id', status: 200, seconds: 0.01 });
        assert.match(await scrape(url), /\/users\/:id/);
      } finally {
        await m.close();
      }
    });
  }

  it('observeHttpClient refuses one too (as observeRequest)', async () => {
    const m = createMetrics({ port: await freePort(), host: '127.0.0.1' });
    try {
      const { url } = (await m.listen())!;
      const ok = {
        method: 'GET',
        serverAddress: 'api.example',
        serverPort: 443,
        scheme: 'https',
        seconds: 0.02,
      };
      assert.throws(
        () => m.observeHttpClient({ ...ok, statusCode: 200 } as never),
        (e: unknown) =>
          e instanceof MetricsError &&
          e.code === 'invalid_label' &&
          /^observeHttpClient: `statusCode` is not a known field/.test(e.message),
      );
      assert.doesNotMatch(await scrape(url), /api\.example/);
      m.observeHttpClient({ ...ok, status: 200 });
      assert.match(await scrape(url), /server_address="api\.example"/);
    } finally {
      await m.close();
    }
  });
});
