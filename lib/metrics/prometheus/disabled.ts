/** `createMetrics({ enabled: false })`: the whole adapter surface, recording nothing and serving no metrics. */
import type * as client from 'prom-client';
import { noopMetrics } from '../../core/noop.js';
import { closeBudget } from './close-budget.js';
import { PROMETHEUS_TEXT } from './exposition.js';
import type { PrometheusMetrics } from './types.js';

export function disabledMetrics(registry: client.Registry): PrometheusMetrics {
  const noop = noopMetrics;
  return {
    enabled: false,
    registry,
    framework: {
      requests: undefined,
      requestDuration: noop.histogram({ name: 'x', help: 'x' }),
      clientRequestDuration: noop.histogram({ name: 'x', help: 'x' }),
      dbConnections: noop.gauge({ name: 'x', help: 'x' }),
    },
    counter: noop.counter,
    gauge: noop.gauge,
    histogram: noop.histogram,
    onCollect: noop.onCollect,
    instrument: (h) => h,
    observeRequest() {},
    observeHttpClient() {},
    watchCache: () => () => {},
    watchDbConnections: () => () => {},
    render: async () => ({ contentType: PROMETHEUS_TEXT, body: '' }),
    handler(_req, res) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are disabled\n');
    },
    listen: async () => undefined,
    address: undefined,
    seriesCount: () => 0,
    // Its options are checked as an enabled adapter's are: a misspelt key passed unnoticed while
    // metrics were off, and failed once they were turned on.
    close: async (options) => {
      closeBudget(options, 0);
    },
  };
}
