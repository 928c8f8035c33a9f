/**
 * The `Metrics` contract suite, run against every metrics implementation (no-op, Prometheus, …).
 * What an implementation cannot show (the no-op records nothing) is checked through `scrape` only
 * when it is given; everything else — both argument forms of every call, timers returning seconds,
 * unsubscribing, closing twice — holds for all of them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Metrics } from '../../lib/core/contracts.js';

/** One exposed sample, in Prometheus naming (`x_total`, `x_bucket{le}`, `x_sum`, `x_count`). */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricsUnderTest {
  metrics: Metrics;
  /** Runs the collect callbacks and returns every sample; omit for metrics that record nothing. */
  scrape?: () => Promise<MetricSample[]>;
  /** Whether `startTimer` measures with the `now` the factory was given. */
  honoursClock: boolean;
  close(): Promise<void>;
}

/** Builds fresh metrics; `now` is a monotonic clock in ms to time with, when the implementation takes one. */
export type MetricsFactory = (options: { now: () => number }) => MetricsUnderTest | Promise<MetricsUnderTest>;

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function sampleValue(
  samples: MetricSample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `more than one sample ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}

export function metricsConformance(name: string, factory: MetricsFactory): void {
  describe(`Metrics contract: ${name}`, () => {
    const open: MetricsUnderTest[] = [];
    let clock = 1_000;
    const make = async () => {
      const m = await factory({ now: () => clock });
      open.push(m);
      return m;
    };
    after(async () => {
      await Promise.all(open.map((m) => m.close()));
    });

    it('counter: inc() adds 1, inc(n) adds n, each label combination is its own series', async () => {
      const t = await make();
      const c = t.metrics.counter({ name: 'conf_orders_total', help: 'Orders', labelNames: ['kind'] });
      assert.equal(c.inc({ kind: 'book' }), undefined);
      c.inc({ kind: 'book' }, 2.5);
      c.inc({ kind: 'pen' });
      c.inc({ kind: 'pen' }, 0);
      const plain = t.metrics.counter({ name: 'conf_logins_total', help: 'Logins' });
      plain.inc();
      plain.inc(4);
      if (!t.scrape) return;
      const s = await t.scrape();
      assert.equal(sampleValue(s, 'conf_orders_total', { kind: 'book' }), 3.5);
      assert.equal(sampleValue(s, 'conf_orders_total', { kind: 'pen' }), 1);
      assert.equal(sampleValue(s, 'conf_logins_total'), 5);
    });

    it('gauge: set, inc and dec, with and without labels, may go negative', async () => {
      const t = await make();
      const g = t.metrics.gauge({ name: 'conf_queue_depth', help: 'Depth', labelNames: ['queue'] });
      g.set({ queue: 'a' }, 10);
      g.inc({ queue: 'a' });
      g.dec({ queue: 'a' }, 4);
      g.inc({ queue: 'b' }, 2);
      g.dec({ queue: 'c' }, 3);
      const u = t.metrics.gauge({ name: 'conf_temperature', help: 'T' });
      u.set(20);
      u.dec();
      u.inc(0.5);
      if (!t.scrape) return;
      const s = await t.scrape();
      assert.equal(sampleValue(s, 'conf_queue_depth', { queue: 'a' }), 7);
      assert.equal(sampleValue(s, 'conf_queue_depth', { queue: 'b' }), 2);
      assert.equal(sampleValue(s, 'conf_queue_depth', { queue: 'c' }), -3);
      assert.equal(sampleValue(s, 'conf_temperature'), 19.5);
    });

    it('histogram: cumulative buckets (bounds inclusive), +Inf, sum and count; an exemplar changes no value', async () => {
      const t = await make();
      const h = t.metrics.histogram({
        name: 'conf_payload_bytes',
        help: 'Sizes',
        labelNames: ['kind'],
        buckets: [10, 100],
      });
      h.observe({ kind: 'a' }, 5);
      h.observe({ kind: 'a' }, 10);
      h.observe({ kind: 'a' }, 50, { trace_id: 'a'.repeat(32) });
      h.observe({ kind: 'a' }, 500);
      const u = t.metrics.histogram({ name: 'conf_unlabelled_seconds', help: 'x', buckets: [1] });
      u.observe(0.5);
      if (!t.scrape) return;
      const s = await t.scrape();
      const bucket = (le: string) => sampleValue(s, 'conf_payload_bytes_bucket', { kind: 'a', le });
      assert.deepEqual([bucket('10'), bucket('100'), bucket('+Inf')], [2, 3, 4]);
      assert.equal(sampleValue(s, 'conf_payload_bytes_sum', { kind: 'a' }), 565);
      assert.equal(sampleValue(s, 'conf_payload_bytes_count', { kind: 'a' }), 4);
      assert.equal(sampleValue(s, 'conf_unlabelled_seconds_bucket', { le: '1' }), 1);
      assert.equal(sampleValue(s, 'conf_unlabelled_seconds_count'), 1);
    });

    it('histogram startTimer returns the elapsed seconds and observes them with start and end labels', async () => {
      const t = await make();
      const h = t.metrics.histogram({
        name: 'conf_job_seconds',
        help: 'Jobs',
        labelNames: ['job', 'outcome'],
        buckets: [1, 5],
      });
      const end = h.startTimer({ job: 'sync' });
      clock += 2500;
      const seconds = end({ outcome: 'ok' });
      assert.equal(typeof seconds, 'number');
      assert.ok(seconds >= 0);
      const bare = t.metrics.histogram({ name: 'conf_bare_seconds', help: 'x', buckets: [1] }).startTimer();
      clock += 250;
      assert.ok(bare() >= 0);
      if (!t.honoursClock) return;
      assert.equal(seconds, 2.5);
      if (!t.scrape) return;
      const s = await t.scrape();
      const labels = { job: 'sync', outcome: 'ok' };
      assert.equal(sampleValue(s, 'conf_job_seconds_bucket', { ...labels, le: '1' }), 0);
      assert.equal(sampleValue(s, 'conf_job_seconds_bucket', { ...labels, le: '5' }), 1);
      assert.equal(sampleValue(s, 'conf_job_seconds_sum', labels), 2.5);
      assert.equal(sampleValue(s, 'conf_bare_seconds_sum'), 0.25);
    });

    it('label values may be numbers; they are exposed as strings', async () => {
      const t = await make();
      const c = t.metrics.counter({ name: 'conf_status_total', help: 'x', labelNames: ['code'] });
      c.inc({ code: 200 });
      c.inc({ code: '200' });
      if (!t.scrape) return;
      assert.equal(sampleValue(await t.scrape(), 'conf_status_total', { code: '200' }), 2);
    });

    it('registering the same metric twice gives instruments that write the same series', async () => {
      const t = await make();
      const options = { name: 'conf_jobs_total', help: 'Jobs', labelNames: ['k'] };
      const a = t.metrics.counter(options);
      const b = t.metrics.counter({ ...options });
      a.inc({ k: 'x' });
      b.inc({ k: 'x' }, 2);
      const g1 = t.metrics.gauge({ name: 'conf_level', help: 'x' });
      t.metrics.gauge({ name: 'conf_level', help: 'x' }).set(4);
      g1.inc();
      if (!t.scrape) return;
      const s = await t.scrape();
      assert.equal(sampleValue(s, 'conf_jobs_total', { k: 'x' }), 3);
      assert.equal(sampleValue(s, 'conf_level'), 5);
    });

    it('onCollect runs before every scrape, unsubscribes per registration, and survives a failing callback', async () => {
      const t = await make();
      let reads = 0;
      const g = t.metrics.gauge({ name: 'conf_open_files', help: 'x' });
      const fn = () => {
        reads++;
        g.set(reads * 10);
      };
      const off = t.metrics.onCollect(fn);
      const offTwin = t.metrics.onCollect(fn);
      assert.equal(typeof off, 'function');
      const failing = t.metrics.onCollect(async () => {
        throw new Error('collector down');
      });
      if (t.scrape) {
        assert.equal(sampleValue(await t.scrape(), 'conf_open_files'), 20, 'both registrations ran');
        offTwin();
        assert.equal(
          sampleValue(await t.scrape(), 'conf_open_files'),
          30,
          'the other registration still runs',
        );
      }
      off();
      off();
      offTwin();
      failing();
      if (!t.scrape) return;
      assert.equal(sampleValue(await t.scrape(), 'conf_open_files'), 30);
      assert.equal(reads, 3);
    });

    it('close() may be called twice', async () => {
      const t = await make();
      t.metrics.counter({ name: 'conf_closing_total', help: 'x' }).inc();
      await t.metrics.close?.();
      await t.metrics.close?.();
    });
  });
}
