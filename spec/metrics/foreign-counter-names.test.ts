/**
 * prom-client's `metrics()` on an OpenMetrics registry strips `_total` from every counter's name in
 * place. Once the registry handed to the adapter (the documented reason to pass one: you serve it)
 * rendered itself that way, the adapter's Prometheus text format wrote other code's counters and
 * the shared runtime counters without `_total`: `jobs_total 3` became `jobs 3`,
 * `process_cpu_seconds_total` became `process_cpu_seconds` — a new series name for every text
 * scraper, and a promtool finding.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import * as client from 'prom-client';
import { withTimeout } from '../../lib/core/timeout.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers, findBinary } from '../harness/process.js';
import { skipPromtool } from '../harness/prometheus.js';

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(findBinary('promtool')!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b));
  child.stderr.on('data', (b: Buffer) => (output += b));
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
  child.stdin.end(text);
  return withTimeout(done, 15_000, () => {
    child.kill('SIGKILL');
    return new Error(`promtool check metrics gave no answer within 15 s; output so far:\n${output}`);
  });
}

/** prom-client's runtime gauges named `…_total` (upstream naming, not ours). */
const UPSTREAM =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

/** The sample names of a Prometheus text exposition, sorted. */
function sampleNames(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n'))
    if (line !== '' && !line.startsWith('#')) names.add(line.split(/[{ ]/)[0]!);
  return [...names].sort();
}

/** The families a Prometheus text exposition types as counters, sorted. */
function counterFamilies(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]!).sort();
}

/** A prom-client registry of the OpenMetrics content type (prom-client's types declare no argument). */
function openMetricsRegistry(): client.Registry {
  return new (client.Registry as unknown as new (contentType: string) => client.Registry)(
    client.Registry.OPENMETRICS_CONTENT_TYPE,
  );
}

describeWithServers('prometheus metrics: counter names of an OpenMetrics registry', skipPromtool(), () => {
  it('other code\'s and the runtime counters keep "_total" in the text format after the registry rendered itself as OpenMetrics', async () => {
    const registry = openMetricsRegistry();
    new client.Counter({ name: 'jobs_total', help: 'Jobs run', registers: [registry] }).inc(3);
    const m = createMetrics({ registry, collectRuntime: true, port: 0, logger: { warn() {} } });
    m.counter({ name: 'orders', help: 'Orders' }).inc(2);
    const addr = await m.listen();
    try {
      const scrape = async () => {
        const res = await fetch(addr!.url, { headers: { accept: 'text/plain' } });
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        return res.text();
      };
      const before = await scrape();
      assert.match(before, /^jobs_total 3$/m);
      assert.match(before, /^process_cpu_seconds_total /m);

      // The owner serves the registry: prom-client renames its counters in place.
      const served = await registry.metrics();
      assert.match(served, /^jobs_total 3$/m);

      const after = await scrape();
      assert.match(after, /^jobs_total 3$/m);
      assert.doesNotMatch(after, /^jobs /m);
      assert.match(after, /^process_cpu_seconds_total /m);
      assert.doesNotMatch(after, /^process_cpu_seconds /m);
      // Every sample name of before is still there (a GC in between may add
      // nodejs_gc_duration_seconds), and the counter families are the same.
      const now = sampleNames(after);
      assert.deepEqual(
        sampleNames(before).filter((n) => !now.includes(n)),
        [],
      );
      assert.deepEqual(counterFamilies(after), counterFamilies(before));
      const { output } = await promtoolCheck(after);
      assert.deepEqual(
        output
          .trim()
          .split('\n')
          .filter((f) => f !== '' && !UPSTREAM.test(f) && !f.startsWith('db_client_connection_count ')),
        [],
        output,
      );

      // OpenMetrics is unchanged: the family without `_total`, its sample with it.
      const om = (await m.render('application/openmetrics-text')).body;
      assert.match(om, /^# TYPE jobs counter\n(?:# .*\n)*jobs_total 3$/m);

      // An adapter made after the rename, on its own registry, shares the runtime counters.
      const other = createMetrics({ collectRuntime: true, logger: { warn() {} } });
      const text = (await other.render()).body;
      assert.match(text, /^process_cpu_seconds_total /m);
      assert.match(text, /^# TYPE process_cpu_user_seconds_total counter$/m);
      await other.close();
    } finally {
      await m.close();
    }
  });

  it('a reload on a served OpenMetrics registry with collectRuntime is not refused', async () => {
    // The runtime counters, renamed in place by the owner's metrics(), were registered under the
    // stripped names; the adapter after next then found "process_cpu_user_seconds" but not the
    // rest: incompatible_metric, and the reload failed.
    const registry = openMetricsRegistry();
    let m = createMetrics({ registry, collectRuntime: true, logger: { warn() {} } });
    try {
      for (let i = 0; i < 3; i++) {
        await registry.metrics();
        await m.close();
        m = createMetrics({ registry, collectRuntime: true, logger: { warn() {} } });
        assert.match((await m.render()).body, /^process_cpu_seconds_total /m, `reload ${i}`);
      }
      // The registry is handed back as found: no runtime metric left behind by a closed adapter.
      await m.close();
      assert.deepEqual(registry.getMetricsAsArray(), []);
    } finally {
      await m.close();
    }
  });
});
