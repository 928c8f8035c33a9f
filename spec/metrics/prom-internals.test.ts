/**
 * prom-client's private storage as the fast path uses it. The first tests fail when the installed
 * prom-client changes the shape (update prom-internals.ts, then the tested minor in package.json);
 * the others force the public-API fallback and show it records the same values.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as client from 'prom-client';
import type { LogFields } from '../../lib/core/contracts.js';
import { createMetricsWith, type InternalOverrides } from '../../lib/metrics/prometheus/create.js';
import type { PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import {
  FALLBACK_WARNING,
  type PromLibrary,
  probePromInternals,
  promKey,
  usePromInternals,
} from '../../lib/metrics/prometheus/prom-internals.js';
import { OVERFLOW_VALUE } from '../../lib/metrics/prometheus/series.js';
import type { MetricSample } from '../conformance/metrics.js';
import { parseExposition } from './samples.js';

const FORCED: InternalOverrides = { probe: { ok: false, reason: 'forced by the test' } };
const hashMapOf = (metric: object) => (metric as unknown as { hashMap: Record<string, unknown> }).hashMap;

function recorder() {
  const warnings: { message: string; fields?: LogFields | undefined }[] = [];
  return {
    warnings,
    logger: { warn: (message: string, fields?: LogFields) => warnings.push({ message, fields }) },
  };
}

describe('prom-client internals: the installed version has the shape the fast path needs', () => {
  it('the startup probe passes', () => {
    assert.deepEqual(probePromInternals(), { ok: true });
  });

  it('the installed prom-client is the minor the peer range names', () => {
    const require = createRequire(import.meta.url);
    const installed = (require('prom-client/package.json') as { version: string }).version;
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>;
    };
    const range = pkg.peerDependencies['prom-client'];
    assert.match(range ?? '', /^~\d+\.\d+$/, 'peer range pinned to one minor');
    assert.ok(installed.startsWith(`${range!.slice(1)}.`), `installed ${installed}, peer range ${range}`);
  });

  it('a real metric keeps its series in an own `hashMap` keyed the way promKey keys them', () => {
    const registers = [new client.Registry()];
    const c = new client.Counter({
      name: 'c',
      help: 'x',
      labelNames: ['route', 'method', 'status', 'z'],
      registers,
    });
    const key = promKey(['route', 'method', 'status', 'z']);
    const cases: Record<string, string | number>[] = [
      { route: '/a', method: 'GET', status: 200, z: 'q' },
      { status: '500', method: 'POST', route: '/b' },
      { z: 'only' },
      { method: 'PUT', route: '/c' },
    ];
    for (const labels of cases) c.inc(labels);
    assert.ok(Object.hasOwn(c, 'hashMap'));
    assert.deepEqual(Object.keys(hashMapOf(c)).sort(), cases.map(key).sort());
    for (const n of [0, 1, 2, 3]) {
      const names = ['b', 'c', 'a'].slice(0, n);
      const m = new client.Gauge({ name: `g${n}`, help: 'x', labelNames: names, registers });
      const labels = Object.fromEntries(names.map((l, i) => [l, `v${i}`]));
      m.set(labels, 1);
      assert.deepEqual(Object.keys(hashMapOf(m)), [promKey(names)(labels)], `${n} labels`);
      assert.deepEqual(hashMapOf(m)[promKey(names)(labels)], { value: 1, labels });
    }
    const before = hashMapOf(c);
    c.reset();
    assert.notEqual(hashMapOf(c), before, 'reset() swaps the record (the series table recounts on it)');
  });

  it("prom-client's own get() and renderer read what the fast path writes", async () => {
    const registry = new client.Registry();
    const m = createMetricsWith({ registry }, {});
    m.counter({ name: 'orders', help: 'x', labelNames: ['kind'] }).inc({ kind: 'book' }, 3);
    m.histogram({ name: 'lat', help: 'x', buckets: [1, 2] }).observe(1.5);
    const counter = registry.getSingleMetric('orders_total') as client.Counter;
    assert.deepEqual((await counter.get()).values, [{ value: 3, labels: { kind: 'book' } }]);
    const text = await registry.metrics();
    assert.match(text, /^lat_bucket\{le="1"\} 0$/m);
    assert.match(text, /^lat_bucket\{le="2"\} 1$/m);
    assert.match(text, /^lat_sum 1.5$/m);
  });
});

describe('prom-client internals: the probe reports a changed shape instead of failing later', () => {
  it('a metric without `hashMap`', () => {
    class Counter {
      series = new Map();
      inc() {}
    }
    const r = probePromInternals({ ...client, Counter } as unknown as PromLibrary);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /Counter has no own "hashMap" object/);
  });

  it('a different key format', () => {
    // prom-client assigns `inc` per instance, so the stand-in wraps it after construction.
    class Counter extends client.Counter {
      constructor(config: client.CounterConfiguration<string>) {
        super(config);
        const inc = this.inc.bind(this) as (...a: unknown[]) => void;
        this.inc = ((...args: unknown[]) => {
          inc(...args);
          const map = hashMapOf(this);
          for (const k of Object.keys(map)) {
            if (!k.includes(',')) continue;
            map[k.replaceAll(',', '|')] = map[k];
            delete map[k];
          }
        }) as client.Counter['inc'];
      }
    }
    const r = probePromInternals({ ...client, Counter } as unknown as PromLibrary);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /Counter keys changed/);
  });

  it('a library that throws', () => {
    class Registry {
      constructor() {
        throw new Error('boom');
      }
    }
    const r = probePromInternals({ ...client, Registry } as unknown as PromLibrary);
    assert.deepEqual(r, { ok: false, reason: 'probe failed: Error: boom' });
  });

  it('a failed probe means one warning with a code, and the public path', () => {
    const { warnings, logger } = recorder();
    assert.equal(usePromInternals(logger, { ok: false, reason: 'changed' }), false);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.fields?.code, FALLBACK_WARNING);
    assert.match(warnings[0]!.message, /\(changed\); using prom-client's public API/);
    assert.equal(usePromInternals(logger), true, 'the installed prom-client passes');
    assert.equal(warnings.length, 1);
  });
});

/** The same calls on the fast path and the fallback; every call a user can make that records. */
function workload(m: PrometheusMetrics, cap: number): void {
  const c = m.counter({ name: 'orders', help: 'x', labelNames: ['kind'], maxSeries: cap });
  for (let i = 0; i < cap + 3; i++) c.inc({ kind: `k${i}` }, i + 0.5);
  m.counter({ name: 'plain', help: 'x' });
  const g = m.gauge({ name: 'depth', help: 'x', labelNames: ['q'] });
  g.set({ q: 'a' }, 5);
  g.dec({ q: 'a' }, 2);
  g.inc({ q: 'b' });
  const h = m.histogram({ name: 'lat', help: 'x', labelNames: ['route'], buckets: [0.1, 1] });
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe({ route: '/r' }, v, { trace_id: 'a'.repeat(32) });
  m.observeRequest({ method: 'GET', route: '/u/:id', status: 200, seconds: 0.2 });
  m.watchCache({
    name: 'mem',
    stats: () => ({ hits: 7, misses: 3, hitRatio: 0.7, keysEvicted: 2, errors: 1 }),
  });
  m.watchCache({ name: 'gone', stats: () => ({ hits: 1, misses: 1, hitRatio: 0.5 }) })();
}

const byKey = (s: MetricSample[]) =>
  s.map((x) => `${x.name}${JSON.stringify(Object.entries(x.labels).sort())} ${x.value}`).sort();

describe('prom-client internals: the public-API fallback records the same values', () => {
  it('one warning with its code through the adapter logger; same samples as the fast path', async () => {
    const fastLog = recorder();
    const fast = createMetricsWith({ namespace: 'app', logger: fastLog.logger }, {});
    const slowLog = recorder();
    const slow = createMetricsWith({ namespace: 'app', logger: slowLog.logger }, FORCED);
    assert.deepEqual(
      slowLog.warnings.map((w) => w.fields?.code),
      [FALLBACK_WARNING],
    );
    workload(fast, 4);
    workload(slow, 4);
    const [a, b] = [parseExposition((await fast.render()).body), parseExposition((await slow.render()).body)];
    assert.deepEqual(byKey(b), byKey(a));
    assert.ok(a.some((s) => s.name === 'app_orders_total' && s.labels.kind === OVERFLOW_VALUE));
    assert.equal(slow.seriesCount('app_orders_total'), 5, '4 series + overflow');
    assert.equal(slow.seriesCount('app_plain_total'), fast.seriesCount('app_plain_total'));
    assert.equal(slow.seriesCount('app_cache_requests_total'), 2, 'the unwatched cache freed its series');
    assert.deepEqual(
      slowLog.warnings.slice(1).map((w) => w.fields?.metric),
      ['app_orders_total'],
      'cap warning as on the fast path',
    );
    const om = (await slow.render('application/openmetrics-text')).body;
    assert.ok(!om.includes('trace_id'), 'no exemplars on the fallback');
    assert.ok(om.endsWith('# EOF\n'));
  });

  it("with default labels the fallback writes the fast path's text, line for line (`le` last, defaults before it)", async () => {
    const options = {
      namespace: 'app',
      defaultLabels: { service: 'api', env: 'prod' },
      logger: { warn() {} },
    };
    const fast = createMetricsWith(options, {});
    const slow = createMetricsWith(options, FORCED);
    workload(fast, 4);
    workload(slow, 4);
    const [a, b] = [(await fast.render()).body, (await slow.render()).body];
    // Before: the fallback wrote `app_lat_bucket{le="0.1",route="/r",service="api",env="prod"}`
    // where the fast path writes `app_lat_bucket{route="/r",service="api",env="prod",le="0.1"}`.
    assert.match(b, /^app_lat_bucket\{route="\/r",service="api",env="prod",le="0\.1"\} 2$/m);
    assert.deepEqual(b.split('\n'), a.split('\n'));
  });

  it("prom-client's own renderer, remove() and reset() see the fallback's series", async () => {
    const registry = new client.Registry();
    const m = createMetricsWith({ registry, logger: { warn() {} } }, FORCED);
    const c = m.counter({ name: 'shared', help: 'x', labelNames: ['k'] });
    c.inc({ k: 'a' });
    c.inc({ k: 'b' }, 2);
    assert.match(await registry.metrics(), /^shared_total\{k="b"\} 2$/m);
    (registry.getSingleMetric('shared_total') as client.Counter<'k'>).remove({ k: 'a' });
    registry.resetMetrics();
    c.inc({ k: 'c' });
    const samples = parseExposition((await m.render()).body).filter((s) => s.name === 'shared_total');
    assert.deepEqual(samples, [{ name: 'shared_total', labels: { k: 'c' }, value: 1 }]);
  });

  it('the default logger turns the fallback into one process warning with the code', async () => {
    const seen: Error[] = [];
    const listen = (w: Error) => seen.push(w);
    process.on('warning', listen);
    try {
      createMetricsWith({}, FORCED);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', listen);
    }
    const ours = seen.filter((w) => (w as Error & { code?: string }).code === FALLBACK_WARNING);
    assert.equal(ours.length, 1);
    assert.equal(ours[0]?.name, 'HyperionMetricsWarning');
  });
});
