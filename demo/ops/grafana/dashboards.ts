/**
 * The demo's Grafana dashboards as typed code (`@grafana/grafana-foundation-sdk` builders, so each
 * one is a valid dashboard by construction). `npm run dashboards` writes them to
 * `dashboards/*.json`, which Grafana provisions; spec/demo/dashboards.test.ts fails when the
 * committed JSON differs from what this file generates, and spec/demo/e2e.test.ts runs every
 * panel's PromQL against a real Prometheus scraping the demo.
 *
 * Metric names are the OpenTelemetry ones the demo exports by default (`naming: 'otel'`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DataSourceRef,
  LegendDisplayMode,
  LegendPlacement,
  SortOrder,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { type Dashboard, DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

const PROMETHEUS: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };

/** Shorthands for the RED queries on the OpenTelemetry HTTP server histogram. */
const SERVER = 'http_server_request_duration_seconds';
const CLIENT = 'http_client_request_duration_seconds';
const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;
/** Failed requests, and requests whose outcome is recorded (not folded into the cap's overflow series). */
const KNOWN = 'error_type!="__overflow__"';
const FAILED = `error_type!="",${KNOWN}`;

interface Query {
  expr: string;
  legend: string;
  /** Show the histogram's exemplars (trace ids, linked to Jaeger by the datasource). */
  exemplar?: boolean;
}

interface Panel {
  title: string;
  unit: string;
  description?: string;
  /** x, y, w, h on Grafana's 24-column grid. */
  at: [number, number, number, number];
  queries: Query[];
}

function timeseries(id: number, p: Panel): PanelBuilder {
  const [x, y, w, h] = p.at;
  const b = new PanelBuilder()
    .id(id)
    .title(p.title)
    .datasource(PROMETHEUS)
    .gridPos({ x, y, w, h })
    .unit(p.unit)
    .legend(
      new VizLegendOptionsBuilder()
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom)
        .showLegend(true),
    )
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  if (p.description) b.description(p.description);
  p.queries.forEach((q, i) => {
    const t = new DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .datasource(PROMETHEUS)
      .expr(q.expr)
      .legendFormat(q.legend)
      .range();
    if (q.exemplar) t.exemplar(true);
    b.withTarget(t);
  });
  return b;
}

function dashboard(o: { uid: string; title: string; description: string; panels: Panel[] }): Dashboard {
  const d = new DashboardBuilder(o.title)
    .uid(o.uid)
    .description(o.description)
    .tags(['hyperion', 'demo'])
    .timezone('browser')
    .editable()
    .version(1)
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' });
  o.panels.forEach((p, i) => {
    d.withPanel(timeseries(i + 1, p));
  });
  return d.build();
}

const servicesRed = (): Dashboard =>
  dashboard({
    uid: 'hyperion-red',
    title: 'Hyperion demo · Services (RED)',
    description:
      'Rate, errors and duration per service and route (OpenTelemetry HTTP metrics), outgoing calls, business metrics, exemplar links to Jaeger.',
    panels: [
      {
        title: 'Request rate by service and route',
        unit: 'reqps',
        description: `R of RED: requests per second (the count of ${SERVER}), labelled with the route template.`,
        at: [0, 0, 12, 8],
        queries: [
          {
            expr: `sum by (service, http_route) (${rate(`${SERVER}_count`)})`,
            legend: '{{service}} {{http_route}}',
          },
        ],
      },
      {
        title: 'Error ratio by service',
        unit: 'percentunit',
        description:
          'E of RED: share of requests with an error_type (a 5xx status, an exception class, or aborted); 0 when there were none. Requests folded into the __overflow__ series past the cardinality cap (every label __overflow__, error_type too, failed or not) are left out of both sides.',
        at: [12, 0, 12, 8],
        queries: [
          {
            // Not `error_type!=""` alone: the overflow series has error_type="__overflow__", so every
            // request folded past the cap counted as a failure (85 % errors with none failing).
            expr: `(sum by (service) (${rate(`${SERVER}_count{${FAILED}}`)}) or sum by (service) (${rate(`${SERVER}_count{${KNOWN}}`)}) * 0) / sum by (service) (${rate(`${SERVER}_count{${KNOWN}}`)})`,
            legend: '{{service}}',
          },
        ],
      },
      {
        title: 'Latency p50 / p99 by service (click an exemplar dot to open the trace)',
        unit: 's',
        description:
          'D of RED. Exemplars carry the trace_id of sampled requests; the Prometheus datasource links them to Jaeger.',
        at: [0, 8, 24, 8],
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (service, le) (${rate(`${SERVER}_bucket`)}))`,
            legend: 'p99 {{service}}',
            exemplar: true,
          },
          {
            expr: `histogram_quantile(0.5, sum by (service, le) (${rate(`${SERVER}_bucket`)}))`,
            legend: 'p50 {{service}}',
            exemplar: true,
          },
        ],
      },
      {
        title: 'p99 latency by route',
        unit: 's',
        at: [0, 16, 12, 8],
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (service, http_route, le) (${rate(`${SERVER}_bucket`)}))`,
            legend: '{{service}} {{http_route}}',
            exemplar: true,
          },
        ],
      },
      {
        title: 'Client errors (4xx) by service',
        unit: 'reqps',
        description: 'Invalid input (400), unknown users (404/422).',
        at: [12, 16, 12, 8],
        queries: [
          {
            expr: `sum by (service, http_response_status_code) (${rate(`${SERVER}_count{http_response_status_code=~"4.."}`)})`,
            legend: '{{service}} {{http_response_status_code}}',
          },
        ],
      },
      {
        title: 'Outgoing calls per second by target',
        unit: 'reqps',
        description: `Calls made through tracedFetch (${CLIENT}), by calling service and target.`,
        at: [0, 24, 12, 8],
        queries: [
          {
            expr: `sum by (service, server_address, server_port) (${rate(`${CLIENT}_count`)})`,
            legend: '{{service}} → {{server_address}}:{{server_port}}',
          },
        ],
      },
      {
        title: 'Outgoing call p99 latency by target',
        unit: 's',
        at: [12, 24, 12, 8],
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (service, server_address, server_port, le) (${rate(`${CLIENT}_bucket`)}))`,
            legend: '{{service}} → {{server_address}}:{{server_port}}',
            exemplar: true,
          },
        ],
      },
      {
        title: 'User lookups by result',
        unit: 'reqps',
        description:
          'Business metric of the user service, by result: served from a cache (hit), loaded from the database (miss), no such user (not_found), or the lookup failed — the database down or unreachable (error).',
        at: [0, 32, 12, 8],
        queries: [{ expr: `sum by (result) (${rate('user_lookups_total')})`, legend: '{{result}}' }],
      },
      {
        title: 'Orders created',
        unit: 'reqps',
        at: [12, 32, 12, 8],
        queries: [{ expr: `sum(${rate('orders_created_total')})`, legend: 'orders/s' }],
      },
      {
        title: 'Order value (median and p90)',
        unit: 'currencyUSD',
        at: [0, 40, 24, 8],
        queries: [
          {
            expr: 'histogram_quantile(0.5, sum by (le) (rate(order_value_dollars_bucket[5m])))',
            legend: 'median',
            exemplar: true,
          },
          {
            expr: 'histogram_quantile(0.9, sum by (le) (rate(order_value_dollars_bucket[5m])))',
            legend: 'p90',
            exemplar: true,
          },
        ],
      },
    ],
  });

const databaseRuntime = (): Dashboard =>
  dashboard({
    uid: 'hyperion-runtime',
    title: 'Hyperion demo · Database and Node runtime',
    description: 'Database connections and Node.js runtime metrics per service.',
    panels: [
      {
        title: 'Database connections by state',
        unit: 'short',
        description:
          'db_client_connection_count: connections checked out of the pg pool (used) and waiting in it (idle); embedded pglite reports statements running as used.',
        at: [0, 0, 12, 8],
        queries: [
          {
            expr: 'sum by (service, db_client_connection_state) (db_client_connection_count)',
            legend: '{{service}} {{db_client_connection_state}}',
          },
        ],
      },
      {
        title: 'Resident memory',
        unit: 'bytes',
        at: [12, 0, 12, 8],
        queries: [{ expr: 'process_resident_memory_bytes', legend: '{{service}}' }],
      },
      {
        title: 'Heap used',
        unit: 'bytes',
        at: [0, 8, 12, 8],
        queries: [{ expr: 'nodejs_heap_size_used_bytes', legend: '{{service}}' }],
      },
      {
        title: 'Event loop lag p99',
        unit: 's',
        at: [12, 8, 12, 8],
        queries: [{ expr: 'nodejs_eventloop_lag_p99_seconds', legend: '{{service}}' }],
      },
      {
        title: 'CPU',
        unit: 'percentunit',
        at: [0, 16, 12, 8],
        queries: [{ expr: rate('process_cpu_seconds_total'), legend: '{{service}}' }],
      },
      {
        title: 'Active handles',
        unit: 'short',
        at: [12, 16, 12, 8],
        queries: [{ expr: 'nodejs_active_handles_total', legend: '{{service}}' }],
      },
    ],
  });

const HITS = 'cache_requests_total{result="hit"}';
const READS = 'cache_requests_total';

const caches = (): Dashboard =>
  dashboard({
    uid: 'hyperion-cache',
    title: 'Hyperion demo · Caches',
    description: 'Hit ratio per cache layer (L1 memory, L2 Redis, tiered), computed from the cache counters.',
    panels: [
      {
        title: 'Hit ratio per layer (windowed)',
        unit: 'percentunit',
        description:
          'Hits over reads reaching each layer: l1 = in-process memory cache, l2 = Redis, tiered = both together.',
        at: [0, 0, 24, 8],
        queries: [
          {
            expr: `sum by (service, cache) (${rate(HITS)}) / sum by (service, cache) (${rate(READS)})`,
            legend: '{{service}} {{cache}}',
          },
        ],
      },
      {
        title: 'Hit ratio since start',
        unit: 'percentunit',
        description:
          'Hits over reads since the service started (what the removed cache_hit_rate gauge showed).',
        at: [0, 8, 12, 8],
        queries: [
          {
            expr: `sum by (service, cache) (${HITS}) / sum by (service, cache) (${READS})`,
            legend: '{{service}} {{cache}}',
          },
        ],
      },
      {
        title: 'Cache reads per second by result',
        unit: 'reqps',
        at: [12, 8, 12, 8],
        queries: [
          {
            expr: `sum by (service, cache, result) (${rate(READS)})`,
            legend: '{{service}} {{cache}} {{result}}',
          },
        ],
      },
      {
        title: 'Evictions per second',
        unit: 'ops',
        description: 'Keys pushed out of a full L1 (TinyLFU keeps the frequent ones).',
        at: [0, 16, 12, 8],
        queries: [
          {
            expr: `sum by (service, cache) (${rate('cache_evictions_total')})`,
            legend: '{{service}} {{cache}}',
          },
        ],
      },
      {
        title: 'Cache backend errors per second',
        unit: 'ops',
        description:
          'L2 timeouts and connection losses; the tiered cache keeps answering from L1 and the database meanwhile.',
        at: [12, 16, 12, 8],
        queries: [
          {
            expr: `sum by (service, cache) (${rate('cache_errors_total')})`,
            legend: '{{service}} {{cache}}',
          },
        ],
      },
    ],
  });

/** File name (in `dashboards/`) → dashboard. */
export function dashboards(): Record<string, Dashboard> {
  return {
    'services-red.json': servicesRed(),
    'database-runtime.json': databaseRuntime(),
    'caches.json': caches(),
  };
}

/** The text written for a dashboard (what the committed files must equal). */
export function dashboardJson(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

export const DASHBOARD_DIR = fileURLToPath(new URL('./dashboards/', import.meta.url));

// `npm run dashboards`: (re)writes every dashboard file.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, d] of Object.entries(dashboards())) {
    writeFileSync(join(DASHBOARD_DIR, file), dashboardJson(d));
    console.log(`wrote ${join('demo/ops/grafana/dashboards', file)}`);
  }
}
