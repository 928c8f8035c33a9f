/**
 * `db_client_connection_count` carries its state as the OpenTelemetry conventions name it:
 * `db.client.connection.state`, exported as the label `db_client_connection_state` (what
 * OpenTelemetry's pg instrumentation gives through a Prometheus exporter). The label was `state`,
 * the attribute of the older `db.client.connections.usage`: a dashboard built for
 * OpenTelemetry-instrumented services found the metric but none of its states.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
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
