/**
 * Anyone who can reach the metrics endpoint can send `X-Prometheus-Scrape-Timeout-Seconds`. With
 * `0.000001`, every async `onCollect` callback (and every other code's `collect()` that does not
 * settle at once) timed out and was warned about on every request: 500 requests logged 492
 * "a metrics collect callback failed". Now the header is not honoured below 100 ms, and the
 * warnings of one callback (or metric) are rate-limited: the first at once, then at most one per
 * 5 s with a `suppressed` count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as client from 'prom-client';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { scrapeBudgetMs } from '../../lib/metrics/prometheus/server.js';

describe('prometheus metrics: a tiny scrape timeout from any client does not flood the log', () => {
  it('a scrape timeout below 100 ms counts as 100 ms (a 75 ms collection)', () => {
    for (const tiny of ['0.000001', '1e-9', '0.05', '0.1']) assert.equal(scrapeBudgetMs(tiny), 75, tiny);
    assert.equal(scrapeBudgetMs('0.2'), 150);
  });

  it('40 scrapes announcing a 1 µs timeout, with a hanging callback and collect(): one warning each per 5 s, counted', async () => {
    const registry = new client.Registry();
    new client.Gauge({
      name: 'pool_hung',
      help: 'A collect() that never settles',
      registers: [registry],
      collect: () => new Promise<void>(() => {}),
    });
    const callback: (number | undefined)[] = [];
    const foreign: (number | undefined)[] = [];
    const m = createMetrics({
      registry,
      port: 0,
      logger: {
        warn(message, fields) {
          const suppressed = fields?.suppressed as number | undefined;
          if (/collect callback failed/.test(message)) callback.push(suppressed);
          else if (/"pool_hung".*left out/.test(message)) foreign.push(suppressed);
        },
      },
    });
    try {
      m.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(7);
      m.onCollect(() => new Promise<void>(() => {}));
      const { url } = (await m.listen())!;
      const started = performance.now();
      for (let i = 0; i < 40; i++) {
        const res = await fetch(url, {
          headers: { 'x-prometheus-scrape-timeout-seconds': '0.000001' },
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(res.status, 200);
        assert.match(await res.text(), /^queue_depth 7$/m);
      }
      // The limit is per 5 s: however slow this machine, at most one line per 5 s elapsed, plus
      // the first. Before: 40 of each (one per scrape).
      const allowed = Math.floor((performance.now() - started) / 5000) + 1;
      for (const [what, lines] of [
        ['callback', callback],
        ['collect()', foreign],
      ] as const) {
        assert.ok(lines.length >= 1, `${what}: the first failure is logged at once`);
        assert.equal(lines[0], undefined, `${what}: the first line has nothing suppressed`);
        assert.ok(lines.length <= allowed, `${what}: ${lines.length} lines, at most ${allowed} expected`);
      }
    } finally {
      await m.close({ timeoutMs: 1000 });
    }
  });

  it('what the quiet time held back is written when it ends, with the count of the others', async () => {
    const lines: { message: string; suppressed: unknown }[] = [];
    const m = createMetrics({
      collectTimeoutMs: 20,
      logger: { warn: (message, fields) => void lines.push({ message, suppressed: fields?.suppressed }) },
    });
    try {
      m.onCollect(() => new Promise<void>(() => {}));
      const started = performance.now();
      for (let i = 0; i < 4; i++) await m.render();
      const rendered = performance.now() - started;
      // Bounded wait for the held-back line (written 5 s after the first).
      for (let i = 0; i < 200 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(lines[0]?.suppressed, undefined);
      if (rendered < 5000) {
        // All four within one quiet time: the first, then the fourth carrying the other two.
        assert.equal(lines.length, 2, JSON.stringify(lines));
        assert.equal(lines[1]?.suppressed, 2);
      }
      assert.ok(lines.every((l) => l.message === 'a metrics collect callback failed'));
    } finally {
      await m.close({ timeoutMs: 1000 });
    }
  });
});
