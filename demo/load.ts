/**
 * Sends the demo's traffic mix to a running gateway (e.g. the compose stack), so there is
 * something to look at in Jaeger and Grafana:
 *
 *   node --import tsx demo/load.ts [BASE_URL=http://localhost:8080] [REQUESTS=2000] [CONCURRENCY=8]
 */
import { driveTraffic, quantile } from './traffic.js';

const [base = 'http://localhost:8080', requests = '2000', concurrency = '8'] = process.argv.slice(2);
const result = await driveTraffic({
  baseUrl: base.replace(/\/+$/, ''),
  requests: Number(requests),
  concurrency: Number(concurrency),
  deadlineMs: 120_000,
  seed: Date.now() & 0xffff,
});
const ok = result.samples.filter((s) => s.status >= 200 && s.status < 500);
const ms = result.samples.map((s) => s.ms);
process.stdout.write(
  `${result.samples.length} requests in ${(result.elapsedMs / 1000).toFixed(1)} s: ${ok.length} answered (2xx/4xx), ` +
    `${result.samples.length - ok.length} failed; p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms\n`,
);
const sample = result.samples.find((s) => s.kind === 'user-orders' && s.traceId);
if (sample) process.stdout.write(`a trace to open: http://localhost:16686/trace/${sample.traceId}\n`);
