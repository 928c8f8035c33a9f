/**
 * The demo's `user_lookups_total{result}` has a series for each result from the start, at 0. A
 * result's series used to be born at its first lookup, already at 1: Prometheus had no earlier
 * sample, so `increase()` — and the "User lookups by result" panel's `rate()` — read the first
 * `error` after the database went down (or the first `not_found`) as 0.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';
import { skipPrometheus, startPrometheus } from '../harness/prometheus.js';

describeWithServers(
  'demo: user_lookups_total starts at 0 for every result',
  skipPostgres() || skipPrometheus(),
  () => {
    let pg: PostgresServer;
    let services: RunningServices;
    before(async () => {
      pg = await startPostgres();
      services = await startServices({
        ports: { gateway: 0, user: 0, order: 0 },
        databaseUrl: pg.url,
        tracing: { exporter: 'memory' },
        logger: 'error',
      });
    });
    after(async () => {
      await services?.close().catch(() => {});
      await pg?.stop();
    });

    it("every result is exposed before any lookup, and a real Prometheus's increase() sees the first of each", async () => {
      const body = await (await fetch(`${services.user.url}/metrics`)).text();
      for (const result of ['hit', 'miss', 'not_found', 'error'])
        assert.ok(
          body.split('\n').includes(`user_lookups_total{result="${result}",service="user-service"} 0`),
          `${result} at 0 in:\n${body
            .split('\n')
            .filter((l) => l.includes('user_lookups'))
            .join('\n')}`,
        );
      const prom = await startPrometheus({ scrapeTargets: [new URL(services.user.url).host] });
      try {
        // A scrape before the lookup.
        await prom.waitForSeries('user_lookups_total{result="not_found"}', (s) => s.length === 1);
        assert.equal((await fetch(`${services.user.url}/users/999999`)).status, 404);
        const [found] = await prom.waitForSeries(
          'sum(increase(user_lookups_total{result="not_found"}[1m]))',
          (s) => s.length === 1 && s[0]!.value > 0,
          { timeoutMs: 20_000 },
        );
        assert.ok(found!.value > 0);
      } finally {
        await prom.stop();
      }
    });
  },
);
