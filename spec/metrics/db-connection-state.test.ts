/**
 * `db_client_connection_count` carries its state as the OpenTelemetry conventions name it:
 * `db.client.connection.state`, exported as the label `db_client_connection_state` (what
 * OpenTelemetry's pg instrumentation gives through a Prometheus exporter). The label was `state`,
 * the attribute of the older `db.client.connections.usage`: a dashboard built for
 * OpenTelemetry-instrumented services found the metric but none of its states.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

function connectionSamples(body: string): string[] {
  return body.split('\n').filter((l) => l.startsWith('db_client_connection_count{'));
}

describe('metrics: db_client_connection_count labels its state as the conventions do', () => {
  it('db_client_connection_state="used" / "idle", in the text format and in OpenMetrics', async () => {
    const m = createMetrics();
    try {
      m.watchDbConnections(() => ({ used: 2, idle: 3 }));
      for (const accept of [undefined, OPENMETRICS]) {
        const { body } = await m.render(accept);
        assert.deepEqual(
          connectionSamples(body),
          [
            'db_client_connection_count{db_client_connection_state="used"} 2',
            'db_client_connection_count{db_client_connection_state="idle"} 3',
          ],
          `Accept: ${accept ?? '(none)'}`,
        );
      }
    } finally {
      await m.close();
    }
  });
});

describeWithServers(
  'metrics: an OpenTelemetry dashboard query on db_client_connection_count',
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;

    before(async () => {
      metrics = createMetrics({ port: 0 });
      metrics.watchDbConnections(() => ({ used: 2, idle: 3 }));
      const { port } = (await metrics.listen())!;
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] });
    });

    after(async () => {
      await prom?.stop();
      await metrics?.close();
    });

    it('sum by (db_client_connection_state) gives the used and idle connections (it gave one series without the label)', async () => {
      const query = 'sum by (db_client_connection_state) (db_client_connection_count)';
      const samples = await prom.waitForSeries(query, (s) => s.length > 0);
      const byState = Object.fromEntries(samples.map((s) => [s.metric.db_client_connection_state, s.value]));
      assert.deepEqual(byState, { used: 2, idle: 3 }, JSON.stringify(samples));
    });
  },
);

describeWithServers('metrics: two database pools watched on one adapter', skipPostgres(), () => {
  // The metric has no pool label: each watch wrote its own pool's counts over the other's, and the
  // gauge showed whichever read finished last (here the replica's 1 used, 0 idle).
  it('db_client_connection_count is their total by state; a stopped watch takes its pool out', async () => {
    const server = await startPostgres();
    const pools: pg.Pool[] = [];
    const held: pg.PoolClient[] = [];
    try {
      const pool = (max: number) => {
        const p = new pg.Pool({ connectionString: server.url, max });
        p.on('error', () => {});
        pools.push(p);
        return p;
      };
      const primary = pool(5);
      const replica = pool(5);
      // Primary: 2 checked out, 1 idle. Replica: 1 checked out.
      held.push(await primary.connect(), await primary.connect(), await replica.connect());
      (await primary.connect()).release();
      const counts = (p: pg.Pool) => ({ used: p.totalCount - p.idleCount, idle: p.idleCount });
      for (const naming of ['otel', 'legacy'] as const) {
        const m = createMetrics({ naming });
        try {
          const stopPrimary = m.watchDbConnections(() => counts(primary));
          // Read last: an async read that settles after the primary's.
          m.watchDbConnections(async () => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            return counts(replica);
          });
          const samples = async () => {
            const { body } = await m.render();
            return body
              .split('\n')
              .filter(
                (l) => l.startsWith('db_client_connection_count{') || l.startsWith('db_connections_active '),
              );
          };
          assert.deepEqual(
            await samples(),
            naming === 'otel'
              ? [
                  'db_client_connection_count{db_client_connection_state="used"} 3',
                  'db_client_connection_count{db_client_connection_state="idle"} 1',
                ]
              : ['db_connections_active 3'],
            naming,
          );
          stopPrimary();
          assert.deepEqual(
            await samples(),
            naming === 'otel'
              ? [
                  'db_client_connection_count{db_client_connection_state="used"} 1',
                  'db_client_connection_count{db_client_connection_state="idle"} 0',
                ]
              : ['db_connections_active 1'],
            `${naming}, primary unwatched`,
          );
        } finally {
          await m.close();
        }
      }
    } finally {
      for (const c of held) c.release();
      await Promise.all(pools.map((p) => p.end().catch(() => {})));
      await server.stop();
    }
  });
});
