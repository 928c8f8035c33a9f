import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as client from 'prom-client';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetricsWith } from '../../lib/metrics/prometheus/create.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const text = async (m: ReturnType<typeof createMetrics>) => (await m.render()).body;

/** The sample lines of `name` (exact family match), as `series value`. */
function samples(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('prometheus metrics: instruments', () => {
  // Recording itself (counter, gauge, histogram, timers, onCollect) is the Metrics contract suite's:
  // spec/conformance/metrics.ts, run from prometheus.conformance.test.ts. Here: what only this adapter does.
  it('namespace/subsystem prefix every name; counters get the _total suffix when missing', async () => {
    const m = createMetrics({ namespace: 'hyperion', subsystem: 'shop' });
    m.counter({ name: 'orders', help: 'Orders placed', labelNames: ['kind'] }).inc({ kind: 'book' });
    m.counter({ name: 'logins_total', help: 'Logins' }).inc(5);
    const body = await text(m);
    assert.deepEqual(samples(body, 'hyperion_shop_orders_total'), [
      'hyperion_shop_orders_total{kind="book"} 1',
    ]);
    assert.deepEqual(samples(body, 'hyperion_shop_logins_total'), ['hyperion_shop_logins_total 5']);
    assert.match(body, /# TYPE hyperion_shop_orders_total counter/);
  });

  it('rejects bad values with MetricsError invalid_value, without creating a series', async () => {
    const m = createMetrics();
    const c = m.counter({ name: 'c', help: 'c', labelNames: ['k'] });
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
      assert.throws(
        () => c.inc({ k: 'x' }, bad),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_value',
      );
    }
    assert.equal(m.seriesCount('c_total'), 0);
    const g = m.gauge({ name: 'temperature', help: 'T' });
    assert.throws(() => g.set('x' as unknown as number), /gauge value/);
    const h = m.histogram({ name: 'payload_bytes', help: 'Sizes', labelNames: ['kind'], buckets: [10, 100] });
    assert.throws(() => h.observe({ kind: 'a' }, Number.NaN), MetricsError);
    assert.throws(() => h.observe({ kind: 'a' }, Number.POSITIVE_INFINITY), MetricsError);
    assert.equal(m.seriesCount('payload_bytes'), 0);
    // The message names what was given: `observe('0.5')` said "received undefined".
    const u = m.histogram({ name: 'wait_seconds', help: 'Waits' });
    assert.throws(() => u.observe('0.5' as unknown as number), /observed value .* received string$/);
    assert.throws(() => u.observe(null as unknown as number), /observed value .* received null$/);
    assert.throws(() => (u.observe as () => void)(), /observed value .* received undefined$/);
    assert.match((await m.render()).body, /^wait_seconds_count 0$/m);
  });

  it('rejects an exemplar that OpenMetrics cannot carry with invalid_label, recording nothing', async () => {
    // Exemplar label names went into the OpenMetrics output as given: `# {trace id="x"}` made
    // the whole exposition unparsable, and Prometheus (which asks for OpenMetrics) failed every scrape.
    const m = createMetrics();
    const h = m.histogram({ name: 'job_seconds', help: 'Job time', buckets: [1] });
    const bad: unknown[] = [
      { 'trace id': 'x' },
      { '': 'x' },
      { '9lives': 'x' },
      { trace_id: 5 },
      { trace_id: 'a\uD800' },
      { trace_id: 'a\u0000b' }, // accepted before: a real Prometheus then failed every scrape
      'trace_id',
      null,
    ];
    for (const exemplar of bad)
      assert.throws(
        () => h.observe({}, 0.5, exemplar as Record<string, string>),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_label',
        JSON.stringify(exemplar),
      );
    const om = (await m.render('application/openmetrics-text')).body;
    assert.deepEqual(samples(om, 'job_seconds_count'), ['job_seconds_count 0'], 'nothing recorded');
    h.observe({}, 0.5, { trace_id: 'a"b\\c' });
    const after = (await m.render('application/openmetrics-text')).body;
    assert.ok(after.includes('job_seconds_bucket{le="1"} 1 # {trace_id="a\\"b\\\\c"} 0.5 '), after);
  });

  it('validates metric names, label names, buckets and help with MetricsError', () => {
    const m = createMetrics();
    const code = (c: string) => (e: unknown) => e instanceof MetricsError && e.code === c;
    assert.throws(() => m.counter({ name: '1abc', help: 'x' }), code('invalid_name'));
    assert.throws(() => m.counter({ name: 'a-b', help: 'x' }), code('invalid_name'));
    assert.throws(() => m.counter({ name: '__secret', help: 'x' }), code('invalid_name'));
    // Exposed as "__total" (it was accepted).
    assert.throws(() => m.counter({ name: '_', help: 'x' }), code('invalid_name'));
    assert.throws(() => m.counter({ name: 'a', help: '' }), code('invalid_help'));
    assert.throws(() => m.counter({ name: 'a', help: 'x', labelNames: ['__x'] }), code('invalid_label'));
    assert.throws(() => m.counter({ name: 'a', help: 'x', labelNames: ['a-b'] }), code('invalid_label'));
    assert.throws(() => m.counter({ name: 'a', help: 'x', labelNames: ['k', 'k'] }), code('invalid_label'));
    assert.throws(() => m.histogram({ name: 'h', help: 'x', labelNames: ['le'] }), /"le".*reserved/);
    assert.throws(() => m.histogram({ name: 'h', help: 'x', buckets: [1, 1] }), code('invalid_buckets'));
    assert.throws(() => m.histogram({ name: 'h', help: 'x', buckets: [] }), code('invalid_buckets'));
    // A last Infinity is the +Inf bucket, always written: dropped. Anywhere else it was dropped
    // too, so an unsorted [Infinity, 1] or a repeated [1, Infinity, Infinity] was taken as [1].
    const inf = Number.POSITIVE_INFINITY;
    const lastInf = [0.5, inf];
    const h = m.histogram({ name: 'h_last_inf', help: 'x', buckets: lastInf });
    h.observe(2);
    assert.deepEqual(lastInf, [0.5, inf], "the caller's array is left as it is");
    assert.throws(() => m.histogram({ name: 'h', help: 'x', buckets: [inf, 1] }), code('invalid_buckets'));
    assert.throws(
      () => m.histogram({ name: 'h', help: 'x', buckets: [1, inf, inf] }),
      code('invalid_buckets'),
    );
    assert.throws(() => m.histogram({ name: 'h', help: 'x', buckets: [inf] }), code('invalid_buckets'));
    // A generated list of 100,000 bounds was accepted: every series then rendered 100,000 lines.
    const many = Array.from({ length: 100_000 }, (_, i) => i);
    assert.throws(
      () => m.histogram({ name: 'h', help: 'x', buckets: many }),
      (e: unknown) =>
        e instanceof MetricsError &&
        e.code === 'invalid_buckets' &&
        /100000 buckets, at most 1000/.test(e.message),
    );
    const thousand = m.histogram({ name: 'h_fine', help: 'x', buckets: many.slice(0, 1000) });
    thousand.observe(3);
    assert.throws(() => m.histogram({ name: 'h_count', help: 'x' }), code('invalid_name'));
    assert.throws(() => createMetrics({ namespace: 'bad-ns' }), code('invalid_name'));
    assert.throws(() => createMetrics({ maxSeriesPerMetric: 0 }), code('invalid_option'));
    const withDefaults = createMetrics({ defaultLabels: { service: 'api' } });
    assert.throws(
      () => withDefaults.counter({ name: 'a', help: 'x', labelNames: ['service'] }),
      /already a default label/,
    );
  });

  it('names longer than 1024 characters are MetricsError (a name of megabytes was accepted)', async () => {
    const m = createMetrics({ namespace: 'ns' });
    const code = (c: string, re: RegExp) => (e: unknown) =>
      e instanceof MetricsError && e.code === c && re.test(e.message) && e.message.length < 400;
    const huge = 'a'.repeat(5_000_000);
    assert.throws(() => m.gauge({ name: huge, help: 'x' }), code('invalid_name', /5000000 characters.*1024/));
    assert.throws(
      () => m.gauge({ name: 'g', help: 'x', labelNames: ['l'.repeat(1_000_000)] }),
      code('invalid_label', /1000000 characters.*1024/),
    );
    assert.throws(
      () => createMetrics({ defaultLabels: { ['d'.repeat(2000)]: 'v' } }),
      code('invalid_label', /2000 characters/),
    );
    assert.throws(
      () => createMetrics({ subsystem: 's'.repeat(2000) }),
      code('invalid_name', /2000 characters/),
    );
    // The bound is on the name as exposed: the `ns_` prefix and a counter's `_total` count.
    assert.throws(() => m.counter({ name: 'c'.repeat(1018), help: 'x' }), code('invalid_name', /1027 char/));
    const longest = m.counter({ name: 'c'.repeat(1015), help: 'x', labelNames: ['l'.repeat(1024)] });
    longest.inc({ ['l'.repeat(1024)]: 'v' });
    const body = await text(m);
    assert.ok(body.includes(`ns_${'c'.repeat(1015)}_total{${'l'.repeat(1024)}="v"} 1`));
    assert.equal(samples(body, 'ns_g').length, 0, 'nothing registered by the refused calls');
  });

  it('help texts longer than 1024 bytes of UTF-8 are invalid_help (3 MB was accepted and written into every scrape)', async () => {
    const m = createMetrics();
    const code = (re: RegExp) => (e: unknown) =>
      e instanceof MetricsError && e.code === 'invalid_help' && re.test(e.message) && e.message.length < 200;
    assert.throws(() => m.gauge({ name: 'huge', help: 'h'.repeat(3_000_000) }), code(/3000000 bytes.*1024/));
    // Bytes, not characters: 513 × "é" is 1026 bytes.
    assert.throws(() => m.counter({ name: 'wide', help: 'é'.repeat(513) }), code(/1026 bytes/));
    assert.throws(() => m.histogram({ name: 'wide_h', help: 'x'.repeat(1025) }), code(/1025 bytes/));
    m.gauge({ name: 'longest', help: 'é'.repeat(512) }).set(1);
    const body = await text(m);
    assert.ok(body.includes(`# HELP longest ${'é'.repeat(512)}\n`));
    assert.doesNotMatch(body, /huge|wide/, 'nothing registered by the refused calls');
  });

  it('a metric declares at most 30 label names, defaultLabels at most 30 (100,000 made every scrape take 25 s)', async () => {
    const m = createMetrics();
    const names = (n: number) => Array.from({ length: n }, (_, i) => `l${i}`);
    const code = (re: RegExp) => (e: unknown) =>
      e instanceof MetricsError && e.code === 'invalid_label' && re.test(e.message);
    assert.throws(
      () => m.counter({ name: 'wide', help: 'w', labelNames: names(100_000) }),
      code(/100000 label names.*30/),
    );
    assert.throws(
      () => m.histogram({ name: 'wide_h', help: 'w', labelNames: names(31) }),
      code(/31 label names/),
    );
    const widest = m.gauge({ name: 'widest', help: 'w', labelNames: names(30) });
    widest.set(Object.fromEntries(names(30).map((n) => [n, 'v'])), 1);
    assert.equal(m.seriesCount('widest'), 1);
    assert.doesNotMatch(await text(m), /wide_?h?[ {_]/, 'nothing registered by the refused calls');
    const labels = (n: number) => Object.fromEntries(names(n).map((k) => [k, 'v']));
    assert.throws(() => createMetrics({ defaultLabels: labels(31) }), code(/defaultLabels has 31 labels/));
    createMetrics({ defaultLabels: labels(30) });
  });

  it('help with newlines, backslashes and quotes is escaped as each format wants it', async () => {
    const m = createMetrics();
    m.gauge({ name: 'odd', help: 'line1\nline2 \\n "q"\\' }).set(1);
    const plain = (await m.render()).body;
    // Text format 0.0.4: backslash and newline escaped, quotes as they are.
    assert.ok(plain.includes('# HELP odd line1\\nline2 \\\\n "q"\\\\\n'), plain);
    const om = (await m.render('application/openmetrics-text')).body;
    // OpenMetrics: quotes escaped too.
    assert.ok(om.includes('# HELP odd line1\\nline2 \\\\n \\"q\\"\\\\\n'), om);
  });

  it('gauge inc/dec take a finite step (NaN made the series NaN for good); set takes NaN and ±Inf', async () => {
    const m = createMetrics();
    const g = m.gauge({ name: 'level', help: 'Level', labelNames: ['k'] });
    g.set(5);
    g.set({ k: 'a' }, 2);
    const invalid = (e: unknown) => e instanceof MetricsError && e.code === 'invalid_value';
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      assert.throws(() => g.inc(bad), invalid, String(bad));
      assert.throws(() => g.dec(bad), invalid, String(bad));
      assert.throws(() => g.inc({ k: 'a' }, bad), invalid, String(bad));
      assert.throws(() => g.dec({ k: 'b' }, bad), invalid, String(bad));
    }
    g.inc(1);
    g.dec({ k: 'a' }, 0.5);
    assert.deepEqual(samples(await text(m), 'level'), ['level 6', 'level{k="a"} 1.5']);
    assert.equal(m.seriesCount('level'), 2, 'no series created by a refused step');
    g.set(Number.NaN);
    g.set({ k: 'a' }, Number.POSITIVE_INFINITY);
    g.set({ k: 'b' }, Number.NEGATIVE_INFINITY);
    assert.deepEqual(samples(await text(m), 'level'), [
      'level NaN',
      'level{k="a"} +Inf',
      'level{k="b"} -Inf',
    ]);
  });

  it('histograms take negative observations (Prometheus does), counters refuse negative steps', async () => {
    const m = createMetrics();
    const h = m.histogram({ name: 'drift_seconds', help: 'Clock drift', buckets: [-1, 0, 1] });
    h.observe(-0.5);
    assert.deepEqual(samples(await text(m), 'drift_seconds_sum'), ['drift_seconds_sum -0.5']);
    const c = m.counter({ name: 'c', help: 'c' });
    assert.throws(
      () => c.inc(-1),
      (e: unknown) => e instanceof MetricsError && e.code === 'invalid_value',
    );
  });

  it('createMetrics options of the wrong type are invalid_option at creation (they were taken, or failed later)', () => {
    const refused = (options: unknown, hint: RegExp) =>
      assert.throws(
        () => createMetrics(options as never),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_option' && hint.test(e.message),
      );
    // Read as `!== false` / Boolean(v): enabled: 'false' (from an environment variable) gave a live
    // adapter, collectRuntime: 'false' registered the runtime metrics.
    refused({ enabled: 'false' }, /enabled must be true or false, received string/);
    refused({ enabled: 0 }, /enabled must be true or false, received number/);
    refused({ exemplars: 'false' }, /exemplars must be true or false/);
    refused({ collectRuntime: 'false' }, /collectRuntime must be true or false/);
    // A logger without warn threw a TypeError only once the cap was reached, inside inc().
    refused({ logger: {} }, /logger must be an object with a warn/);
    refused({ logger: null }, /logger must be an object with a warn/);
    // A `now` that is not a function threw a TypeError in every timer and instrumented request.
    refused({ now: 'x' }, /now must be a function/);
    refused({ registry: {} }, /registry must be a prom-client Registry/);
    refused(null, /options must be an object, received null/);
    // A number given as a string (an environment variable) said "received 9464", a valid port.
    refused({ port: '9464' }, /port must be an integer 0\.\.65535, received "9464" \(a string\)$/);
    refused({ maxSeriesPerMetric: '5' }, /maxSeriesPerMetric must be .*, received "5" \(a string\)$/);
    refused({ collectTimeoutMs: '100' }, /collectTimeoutMs must be .*, received "100" \(a string\)$/);
    refused({ port: 1.5 }, /received 1\.5$/);
    // Any other string by its type only: a URL given as the port was echoed, its password with it.
    refused(
      { port: 'http://u:sekrit@127.0.0.1:9464' },
      /port must be an integer 0\.\.65535, received string$/,
    );
    refused({ maxSeriesPerMetric: 'sekrit' }, /received string$/);
    // What is right is still taken.
    assert.equal(createMetrics({ enabled: false }).enabled, false);
    assert.equal(createMetrics({ enabled: true, exemplars: false, collectRuntime: false }).enabled, true);
    createMetrics({ logger: { warn() {} }, now: () => 0, registry: new client.Registry() });
  });

  it("without a logger, a warning says what it is about: its fields are the process warning's detail", async () => {
    const seen: (Error & { detail?: string })[] = [];
    const listen = (w: Error) => void seen.push(w);
    process.on('warning', listen);
    try {
      const m = createMetrics({ collectTimeoutMs: 50, maxSeriesPerMetric: 1 });
      m.onCollect(() => {
        throw new Error('pool is gone: ECONNREFUSED');
      });
      m.onCollect(() => new Promise<void>(() => {}));
      await m.render();
      const c = m.counter({ name: 'jobs', help: 'x', labelNames: ['k'] });
      c.inc({ k: 'a' });
      c.inc({ k: 'b' });
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', listen);
    }
    const ours = seen.filter((w) => w.name === 'HyperionMetricsWarning');
    // Before: "a metrics collect callback failed" twice, with no way to tell which threw (and what)
    // and which timed out, and no metric named by the cap's warning fields.
    const collect = ours.filter((w) => /collect callback failed/.test(w.message)).map((w) => w.detail);
    assert.equal(collect.length, 2);
    assert.ok(
      collect.some((d) => /^error: Error: pool is gone: ECONNREFUSED$/.test(d ?? '')),
      String(collect),
    );
    assert.ok(
      collect.some((d) => /^error: MetricsError: .*did not finish within 50 ms$/.test(d ?? '')),
      String(collect),
    );
    const cap = ours.find((w) => /reached its cap/.test(w.message));
    assert.equal(cap?.detail, 'metric: jobs_total\ncap: 1');
  });

  it('a misspelt metric option is invalid_option naming the nearest key (it was ignored)', () => {
    const m = createMetrics();
    const refused = (fn: () => unknown, hint: RegExp) =>
      assert.throws(
        fn,
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_option' && hint.test(e.message),
      );
    // Before: default buckets, and a counter with no labels (then every labelled inc threw).
    refused(() => m.histogram({ name: 'lat', help: 'x', bukets: [0.1, 1] } as never), /bukets .*`buckets`/);
    refused(
      () => m.counter({ name: 'orders', help: 'x', labelnames: ['kind'] } as never),
      /labelnames .*`labelNames`/,
    );
    refused(
      () => m.gauge({ name: 'depth', help: 'x', buckets: [1] } as never),
      /buckets is not a known option/,
    );
    assert.equal(m.seriesCount('lat'), 0);
    m.histogram({ name: 'lat', help: 'x', buckets: [0.1, 1], labelNames: ['k'], maxSeries: 10 });
  });

  it('arguments the wrong way round (value, labels) are invalid_label naming the metric; nothing recorded', async () => {
    // From JavaScript, `gauge.set(5, { queue })` wrote 5 to the series without labels and dropped
    // the labels without a word; so did counter.inc, gauge inc/dec and histogram.observe.
    const m = createMetrics({ collectRuntime: false });
    const c = m.counter({ name: 'jobs', help: 'j', labelNames: ['queue'] }) as unknown as Record<
      string,
      (...args: unknown[]) => void
    >;
    const g = m.gauge({ name: 'depth', help: 'd', labelNames: ['queue'] }) as unknown as Record<
      string,
      (...args: unknown[]) => void
    >;
    const h = m.histogram({ name: 'job_seconds', help: 'h', labelNames: ['queue'] }) as unknown as Record<
      string,
      (...args: unknown[]) => void
    >;
    const calls: [string, () => void, string][] = [
      ['jobs_total', () => c.inc!(5, { queue: 'a' }), 'inc'],
      ['depth', () => g.set!(5, { queue: 'a' }), 'set'],
      ['depth', () => g.inc!(2, { queue: 'a' }), 'inc'],
      ['depth', () => g.dec!(2, { queue: 'a' }), 'dec'],
      ['job_seconds', () => h.observe!(0.5, { queue: 'a' }), 'observe'],
    ];
    for (const [metric, call, method] of calls)
      assert.throws(
        call,
        (e: unknown) =>
          e instanceof MetricsError &&
          e.code === 'invalid_label' &&
          e.message.includes(`${method}(labels, value) of metric "${metric}"`) &&
          /the labels go first/.test(e.message),
        `${metric}.${method}`,
      );
    // A second argument after a first that is no labels at all (`undefined`, a string) likewise.
    assert.throws(
      () => c.inc!(undefined, 5),
      /inc\(labels, value\) of metric "jobs_total".*received undefined/,
    );
    assert.throws(() => g.set!('a', 5), /set\(labels, value\) of metric "depth".*received string/);
    for (const name of ['jobs_total', 'depth', 'job_seconds']) assert.equal(m.seriesCount(name), 0, name);
    // The forms of the contract still record.
    c.inc!({ queue: 'a' }, 5);
    c.inc!(1, undefined);
    g.set!({ queue: 'a' }, 5);
    h.observe!({ queue: 'a' }, 0.5);
    h.observe!(0.5);
    const body = await text(m);
    assert.deepEqual(samples(body, 'jobs_total'), ['jobs_total{queue="a"} 5', 'jobs_total 1']);
    assert.deepEqual(samples(body, 'depth'), ['depth{queue="a"} 5']);
  });

  it('rejects undeclared labels and non-scalar label values on every call', () => {
    const m = createMetrics();
    const c = m.counter({ name: 'hits', help: 'x', labelNames: ['route'] });
    c.inc({ route: '/a' });
    assert.throws(
      () => c.inc({ route: '/a', user: 'u1' }),
      /label "user" is not declared by metric "hits_total"/,
    );
    assert.throws(
      () => c.inc({ route: {} as unknown as string }),
      /must be a string or number, received object/,
    );
    assert.equal(m.seriesCount('hits_total'), 1);
  });

  for (const [path, internal] of [
    ['fast path', {}],
    ['public-API fallback', { probe: { ok: false, reason: 'forced' } }],
  ] as const)
    it(`a non-scalar label value is invalid_label also when a series with its text exists (${path})`, async () => {
      const m = createMetricsWith({ logger: { warn() {} } }, internal);
      const c = m.counter({ name: 'hits', help: 'x', labelNames: ['k'] });
      for (const text of ['true', '[object Object]', '1', 'null', '2']) c.inc({ k: text });
      // Before: the type was checked only for a new series, so these were keyed by their text
      // and counted into the string series (and a Symbol threw a TypeError).
      for (const v of [true, {}, [1], null, 2n, Symbol('s')])
        assert.throws(() => c.inc({ k: v as unknown as string }, 10), {
          name: 'MetricsError',
          code: 'invalid_label',
          message: /label "k" of metric "hits_total" must be a string or number/,
        });
      const h = m.histogram({ name: 'lat', help: 'x', labelNames: ['k'] });
      h.observe({ k: 'true' }, 1);
      assert.throws(() => h.observe({ k: true as unknown as string }, 1), { code: 'invalid_label' });
      const body = (await m.render()).body;
      for (const text of ['true', '[object Object]', '1', 'null', '2'])
        assert.ok(body.includes(`hits_total{k="${text}"} 1\n`), `${text}: ${body}`);
      assert.match(body, /^lat_count\{k="true"\} 1$/m);
      assert.equal(m.seriesCount('hits_total'), 5);
    });

  it('re-registration returns the same metric when compatible and throws when not', async () => {
    const m = createMetrics();
    const a = m.counter({ name: 'jobs', help: 'Jobs', labelNames: ['a', 'b'] });
    const b = m.counter({ name: 'jobs_total', help: 'Other help', labelNames: ['b', 'a'] });
    assert.equal(a, b, 'same name (with or without _total), same labels in any order → same metric');
    const incompatible = (e: unknown) => e instanceof MetricsError && e.code === 'incompatible_metric';
    assert.throws(() => m.gauge({ name: 'jobs', help: 'x', labelNames: ['a', 'b'] }), incompatible);
    // A gauge may not be named …_total at all: that error comes first, whatever is registered.
    assert.throws(() => m.gauge({ name: 'jobs_total', help: 'x', labelNames: ['a', 'b'] }), {
      code: 'invalid_name',
    });
    assert.throws(() => m.counter({ name: 'jobs', help: 'x', labelNames: ['a'] }), incompatible);
    const h = m.histogram({ name: 'lat', help: 'x', buckets: [1, 2] });
    assert.equal(m.histogram({ name: 'lat', help: 'x', buckets: [1, 2] }), h);
    assert.throws(() => m.histogram({ name: 'lat', help: 'x', buckets: [1, 3] }), /buckets \[1, 2\]/);
    // An explicit cap that differs used to be ignored: the caller got the first registration's
    // cap (1000 here) and folded combinations it expected to keep. Leaving it out, or giving the
    // same, still returns the metric.
    const capped = m.counter({ name: 'visits', help: 'x', labelNames: ['page'] });
    assert.throws(
      () => m.counter({ name: 'visits', help: 'x', labelNames: ['page'], maxSeries: 5000 }),
      (e: unknown) =>
        incompatible(e) && /maxSeries 1000; cannot register it with maxSeries 5000/.test(String(e)),
    );
    assert.equal(m.counter({ name: 'visits', help: 'x', labelNames: ['page'], maxSeries: 1000 }), capped);
    const wide = m.gauge({ name: 'depth', help: 'x', labelNames: ['q'], maxSeries: 5000 });
    assert.equal(m.gauge({ name: 'depth', help: 'x', labelNames: ['q'] }), wide);
    assert.throws(
      () => m.gauge({ name: 'depth', help: 'x', labelNames: ['q'], maxSeries: 10 }),
      incompatible,
    );
  });

  it('registers in its own registry (two adapters never collide) or in an injected one', async () => {
    const one = createMetrics();
    const two = createMetrics();
    one.counter({ name: 'same', help: 'x' }).inc();
    two.counter({ name: 'same', help: 'x' }).inc(5);
    assert.deepEqual(samples(await text(one), 'same_total'), ['same_total 1']);
    assert.deepEqual(samples(await text(two), 'same_total'), ['same_total 5']);
    assert.equal(client.register.getSingleMetric('same_total'), undefined, 'global registry untouched');

    const registry = new client.Registry();
    const foreign = new client.Gauge({
      name: 'legacy_gauge',
      help: 'from other code',
      registers: [registry],
    });
    foreign.set(7);
    const injected = createMetrics({ registry });
    injected.counter({ name: 'mine', help: 'x', labelNames: ['k'] }).inc({ k: 'v' });
    // prom-client's own renderer sees our metrics (they live in its storage) …
    const promText = await registry.metrics();
    assert.match(promText, /^mine_total\{k="v"\} 1$/m);
    // … and ours renders the foreign metric.
    assert.deepEqual(samples(await text(injected), 'legacy_gauge'), ['legacy_gauge 7']);
    assert.throws(
      () => injected.gauge({ name: 'legacy_gauge', help: 'x' }),
      /registered in the registry by other code/,
    );
    // Names the foreign metrics expose as samples or OpenMetrics families are taken too: these
    // were accepted, and the exposition then held two `pending_count` series, or a histogram
    // family `jobs` beside the counter `jobs` (OpenMetrics family `jobs`, sample `jobs_total`).
    new client.Gauge({ name: 'pending_count', help: 'other code', registers: [registry] }).set(1);
    new client.Counter({ name: 'jobs', help: 'other code', registers: [registry] }).inc();
    new client.Histogram({ name: 'wait_seconds', help: 'other code', registers: [registry] });
    for (const [register, exposed] of [
      [() => injected.histogram({ name: 'pending', help: 'x' }), 'pending_count'],
      [() => injected.histogram({ name: 'jobs', help: 'x' }), 'jobs'],
      [() => injected.counter({ name: 'jobs', help: 'x' }), 'jobs'],
      [() => injected.counter({ name: 'wait_seconds_bucket', help: 'x' }), 'wait_seconds_bucket'],
      [() => injected.counter({ name: 'pending_count', help: 'x' }), 'pending_count'],
    ] as const)
      assert.throws(
        register,
        (e: unknown) =>
          e instanceof MetricsError &&
          e.code === 'incompatible_metric' &&
          e.message.includes(`"${exposed}"`) &&
          /by other code/.test(e.message),
        exposed,
      );
    const om = (await injected.render('application/openmetrics-text')).body;
    assert.equal(om.match(/^pending_count /gm)?.length, 1, om);
    assert.equal(om.match(/^# TYPE jobs(_total)? /gm)?.length, 1, om);
  });

  it('default labels go on every series', async () => {
    const m = createMetrics({ defaultLabels: { service: 'gateway' } });
    m.gauge({ name: 'open_files', help: 'x', labelNames: ['kind'] }).set({ kind: 'log' }, 10);
    m.gauge({ name: 'ready', help: 'x' }).set(1);
    const body = await text(m);
    assert.deepEqual(samples(body, 'open_files'), ['open_files{kind="log",service="gateway"} 10']);
    assert.deepEqual(samples(body, 'ready'), ['ready{service="gateway"} 1']);
  });

  it("stays consistent with prom-client's own remove() and resetMetrics() on the same storage", async () => {
    const registry = new client.Registry();
    const m = createMetrics({ registry, maxSeriesPerMetric: 2, logger: { warn() {} } });
    const c = m.counter({ name: 'shared', help: 'x', labelNames: ['k'] });
    c.inc({ k: 'a' });
    c.inc({ k: 'b' });
    const prom = registry.getSingleMetric('shared_total') as client.Counter<'k'>;
    prom.remove({ k: 'a' });
    assert.equal(m.seriesCount('shared_total'), 1);
    c.inc({ k: 'c' }); // the slot freed by prom-client's remove() is reused, not overflowed
    assert.deepEqual(samples(await text(m), 'shared_total'), [
      'shared_total{k="b"} 1',
      'shared_total{k="c"} 1',
    ]);
    registry.resetMetrics();
    assert.equal(m.seriesCount('shared_total'), 0);
    c.inc({ k: 'x' });
    c.inc({ k: 'y' }, 2);
    assert.deepEqual(samples(await text(m), 'shared_total'), [
      'shared_total{k="x"} 1',
      'shared_total{k="y"} 2',
    ]);
    assert.match(await registry.metrics(), /^shared_total\{k="y"\} 2$/m);
  });

  it('enabled: false serves nothing and wraps nothing (its recording is in the contract suite)', async () => {
    const m = createMetrics({ enabled: false });
    assert.equal(m.enabled, false);
    const handler = () => {};
    assert.equal(m.instrument(handler, { route: '/' }), handler);
    assert.equal(await m.listen(), undefined);
    assert.equal((await m.render()).body, '');
    await m.close();
  });

  it('watchCache reads stats at scrape time into cache counters labelled `cache` (no ratio gauge)', async () => {
    const m = createMetrics({ namespace: 'hyperion' });
    let stats = { hits: 3, misses: 1, hitRatio: 0.75, keysEvicted: 2, errors: 0 };
    let reads = 0;
    const cache = {
      name: 'memory',
      stats: () => {
        reads++;
        return stats;
      },
    };
    const unwatch = m.watchCache(cache);
    assert.equal(reads, 0, 'nothing is read until a scrape');
    let body = await text(m);
    assert.equal(reads, 1);
    assert.deepEqual(samples(body, 'hyperion_cache_requests_total'), [
      'hyperion_cache_requests_total{cache="memory",result="hit"} 3',
      'hyperion_cache_requests_total{cache="memory",result="miss"} 1',
    ]);
    assert.ok(!body.includes('cache_hit_rate') && !body.includes('cache_type'), 'no ratio gauge');
    assert.deepEqual(samples(body, 'hyperion_cache_evictions_total'), [
      'hyperion_cache_evictions_total{cache="memory"} 2',
    ]);
    stats = { hits: 9, misses: 1, hitRatio: 0.9, keysEvicted: 2, errors: 1 };
    body = await text(m);
    assert.deepEqual(samples(body, 'hyperion_cache_requests_total'), [
      'hyperion_cache_requests_total{cache="memory",result="hit"} 9',
      'hyperion_cache_requests_total{cache="memory",result="miss"} 1',
    ]);
    assert.deepEqual(samples(body, 'hyperion_cache_errors_total'), [
      'hyperion_cache_errors_total{cache="memory"} 1',
    ]);
    assert.throws(() => m.watchCache({ name: 'memory', stats: () => stats }), /already watched/);
    unwatch();
    body = await text(m);
    assert.deepEqual(samples(body, 'hyperion_cache_requests_total'), []);
    assert.equal(reads, 2);
  });

  it("a watchCache stop function stops its own watch only: called again after the cache was watched anew, it leaves that watch's series", async () => {
    const m = createMetrics({});
    const cache = { name: 'users', stats: () => ({ hits: 2, misses: 1, hitRatio: 2 / 3 }) };
    const series = [
      'cache_requests_total{cache="users",result="hit"} 2',
      'cache_requests_total{cache="users",result="miss"} 1',
    ];
    const first = m.watchCache(cache);
    first();
    const second = m.watchCache(cache); // watched again, e.g. after a reload
    first(); // the old stop, called a second time (a cleanup list that still holds it)
    assert.deepEqual(samples(await text(m), 'cache_requests_total'), series);
    second();
    assert.deepEqual(samples(await text(m), 'cache_requests_total'), []);
    second();
    const third = m.watchCache(cache, { name: 'users' });
    assert.deepEqual(samples(await text(m), 'cache_requests_total'), series);
    third();
  });

  it('watchCache never exposes a counter as NaN, negative, -Inf or +Inf: a bad count keeps the last good value, one warning', async () => {
    const warnings: string[] = [];
    const m = createMetrics({ logger: { warn: (msg: string) => warnings.push(msg) } as never });
    let stats: Record<string, unknown> = { hits: 5, misses: 2, hitRatio: 5 / 7, keysEvicted: 1, errors: 0 };
    m.watchCache({ name: 'buggy', stats: () => stats as never });
    // A stats() that returns a promise (the contract's stats() is synchronous).
    m.watchCache({ name: 'async', stats: (async () => ({ hits: 1, misses: 1, hitRatio: 0.5 })) as never });
    const good = [
      'cache_requests_total{cache="buggy",result="hit"} 5',
      'cache_requests_total{cache="buggy",result="miss"} 2',
    ];
    assert.deepEqual(samples(await text(m), 'cache_requests_total'), good);
    for (const bad of [Number.NaN, -5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '7', undefined]) {
      stats = { hits: bad, misses: bad, hitRatio: 0.5, keysEvicted: bad, errors: bad };
      const body = await text(m);
      assert.deepEqual(samples(body, 'cache_requests_total'), good, `hits = ${String(bad)}`);
      assert.deepEqual(samples(body, 'cache_evictions_total'), ['cache_evictions_total{cache="buggy"} 1']);
      assert.deepEqual(samples(body, 'cache_errors_total'), ['cache_errors_total{cache="buggy"} 0']);
      assert.doesNotMatch(body, /^cache_\S+ (NaN|-|\+Inf)/m);
    }
    stats = { hits: 8, misses: 3, hitRatio: 8 / 11 };
    assert.deepEqual(samples(await text(m), 'cache_requests_total'), [
      'cache_requests_total{cache="buggy",result="hit"} 8',
      'cache_requests_total{cache="buggy",result="miss"} 3',
    ]);
    assert.equal(warnings.filter((w) => w.includes('"buggy"')).length, 1, warnings.join('\n'));
    assert.equal(warnings.filter((w) => w.includes('"async"')).length, 1, warnings.join('\n'));
    await m.close();
  });

  for (const [path, overrides] of [
    ['fast path', {}],
    ['public-API fallback', { probe: { ok: false, reason: 'forced' } as const }],
  ] as const)
    it(`histogram startTimer(labels) refuses bad labels when it starts, as observe() does (${path})`, async () => {
      // They were checked only when the timer ended: the throw came from the end() call (often in
      // a finally or a response listener: an uncaught exception) and the measurement was lost.
      let clock = 0;
      const m = createMetricsWith({ now: () => clock, logger: { warn() {} } }, overrides);
      const h = m.histogram({
        name: 'job_seconds',
        help: 'x',
        labelNames: ['queue', 'outcome'],
        buckets: [1],
      });
      const cases: [unknown, string, RegExp][] = [
        [
          { qeue: 'a' },
          'invalid_label',
          /label "qeue" is not declared by metric "job_seconds" \(declared: queue, outcome\)/,
        ],
        [{ queue: true }, 'invalid_label', /label "queue" .* must be a string or number, received boolean/],
        [{ queue: '\uD800' }, 'invalid_label', /lone surrogate/],
        [{ queue: '__overflow__' }, 'invalid_label', /reserved/],
        [{ queue: 'x'.repeat(2049) }, 'invalid_label', /2049 bytes long/],
        ['abc', 'invalid_value', /labels of metric "job_seconds"/],
      ];
      for (const [labels, code, message] of cases) {
        let thrown: unknown;
        try {
          h.startTimer(labels as never);
        } catch (err) {
          thrown = err;
        }
        assert.ok(
          thrown instanceof MetricsError,
          `startTimer(${String(JSON.stringify(labels)).slice(0, 30)}) did not throw`,
        );
        assert.equal(thrown.code, code);
        assert.match(thrown.message, message);
      }
      // Good start labels, completed at the end, still work; nothing was recorded by the refused ones.
      const end = h.startTimer({ queue: 'mail' });
      clock += 250;
      assert.equal(end({ outcome: 'ok' }), 0.25);
      assert.deepEqual(samples(await text(m), 'job_seconds_count'), [
        'job_seconds_count{queue="mail",outcome="ok"} 1',
      ]);
      await m.close();
    });

  it('watchCache: a stats() that throws or returns null/undefined keeps the series and is warned once per cache', async () => {
    // A throwing stats() was warned at every scrape (every second under Prometheus); one returning
    // nothing never: its counters just stopped moving. A cache without stats() (memory with
    // `metrics: false`) is a choice: no series, no warning.
    const warnings: { message: string; cache: unknown }[] = [];
    const m = createMetrics({
      logger: {
        warn: (message: string, fields?: Record<string, unknown>) =>
          warnings.push({ message, cache: fields?.cache }),
      },
    });
    let mode: 'ok' | 'null' | 'undefined' | 'throw' = 'ok';
    const cache = {
      name: 'flaky',
      stats: () => {
        if (mode === 'throw') throw new Error('stats exploded');
        return (
          mode === 'ok' ? { hits: 3, misses: 1, hitRatio: 0.75 } : mode === 'null' ? null : undefined
        ) as never;
      },
    };
    const unwatch = m.watchCache(cache);
    m.watchCache({ name: 'bare' } as never);
    const kept = [
      'cache_requests_total{cache="flaky",result="hit"} 3',
      'cache_requests_total{cache="flaky",result="miss"} 1',
    ];
    assert.deepEqual(samples(await text(m), 'cache_requests_total'), kept);
    for (const next of ['null', 'undefined', 'throw'] as const) {
      mode = next;
      for (let i = 0; i < 3; i++)
        assert.deepEqual(samples(await text(m), 'cache_requests_total'), kept, next);
    }
    const of = (name: string) => warnings.filter((w) => w.cache === name).map((w) => w.message);
    assert.deepEqual(of('bare'), []);
    assert.deepEqual(of('flaky'), [
      'stats() of cache "flaky" returned null, not the counts; its series keep their last values (warned once per cache)',
      'reading stats of cache "flaky" failed; its series keep their last values (warned once per cache)',
    ]);
    // A new watch warns again.
    unwatch();
    m.watchCache(cache);
    await text(m);
    assert.equal(of('flaky').length, 3);
    await m.close();
  });

  it('watchCache refuses a name no label can hold (over 2048 bytes, lone surrogate); scrapes keep working', async () => {
    // The name was first checked by the series at scrape time: every scrape then failed (the
    // endpoint answered 500) for as long as the cache was watched.
    const m = createMetrics({ logger: { warn() {} } });
    const stats = () => ({ hits: 1, misses: 1, hitRatio: 0.5 });
    for (const name of ['c'.repeat(2049), 'caché'.repeat(410), 'cache\uDC00']) {
      assert.throws(
        () => m.watchCache({ name, stats }),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_label',
        `${name.length} chars`,
      );
      assert.throws(
        () => m.watchCache({ name: 'ok', stats }, { name }),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_label',
      );
    }
    m.watchCache({ name: 'c'.repeat(2048), stats });
    const body = await text(m);
    assert.equal(samples(body, 'cache_requests_total').length, 2);
  });

  it('watchCache and watchDbConnections refuse arguments they cannot use (a misspelt name was ignored)', async () => {
    const warnings: string[] = [];
    const m = createMetrics({ logger: { warn: (msg) => void warnings.push(msg) } });
    const stats = () => ({ hits: 1, misses: 2, hitRatio: 1 / 3 });
    const refused = (fn: () => unknown, hint: RegExp) =>
      assert.throws(
        fn,
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_option' && hint.test(e.message),
      );
    // Taken before: the series were labelled cache="memory", and a second memory cache then got
    // duplicate_cache ("pass { name }") though a name had been passed.
    refused(
      () => m.watchCache({ name: 'memory', stats }, { nmae: 'users' } as never),
      /nmae is not a known option; did you mean `name`/,
    );
    // TypeErrors before.
    refused(() => m.watchCache({ name: 'memory', stats }, null as never), /options must be \{ name \}/);
    refused(() => m.watchCache(undefined as never), /needs a cache, received undefined/);
    // Taken before, then every scrape warned "a metrics collect callback failed".
    refused(() => m.watchDbConnections('x' as never), /watchDbConnections expects a function/);
    m.watchCache({ name: 'memory', stats }, { name: 'users' });
    m.watchDbConnections(() => ({ used: 1, idle: 2 }));
    const body = await text(m);
    assert.deepEqual(samples(body, 'cache_requests_total').sort(), [
      'cache_requests_total{cache="users",result="hit"} 1',
      'cache_requests_total{cache="users",result="miss"} 2',
    ]);
    assert.equal(samples(body, 'db_client_connection_count').length, 2);
    assert.deepEqual(warnings, []);
  });

  it("naming: 'legacy' keeps the cache_hit_rate{cache_type} gauge", async () => {
    const m = createMetrics({ naming: 'legacy' });
    const unwatch = m.watchCache({ name: 'memory', stats: () => ({ hits: 9, misses: 1, hitRatio: 0.9 }) });
    assert.deepEqual(samples(await text(m), 'cache_hit_rate'), ['cache_hit_rate{cache_type="memory"} 0.9']);
    unwatch();
    assert.deepEqual(samples(await text(m), 'cache_hit_rate'), []);
  });

  it('watchDbConnections never exposes NaN or a negative count: the gauge keeps its last value, the failure is warned', async () => {
    const warnings: unknown[] = [];
    const m = createMetrics({
      logger: {
        warn: (msg: string, attrs?: { error?: unknown }) => warnings.push(attrs?.error ?? msg),
      } as never,
    });
    let pool: unknown = { used: 2, idle: 3 };
    m.watchDbConnections(() => pool as never);
    const good = [
      'db_client_connection_count{db_client_connection_state="used"} 2',
      'db_client_connection_count{db_client_connection_state="idle"} 3',
    ];
    assert.deepEqual(samples(await text(m), 'db_client_connection_count'), good);
    for (const bad of [Number.NaN, -1, { used: Number.NaN }, { used: 1, idle: -2 }, { used: '4' }, null]) {
      pool = bad;
      const before = warnings.length;
      assert.deepEqual(samples(await text(m), 'db_client_connection_count'), good, JSON.stringify(bad));
      // `{ used: NaN }` fails with the very error `NaN` did: a repeat within 5 s is held back
      // (collect warnings are rate-limited per callback and error).
      if (typeof bad === 'object' && bad !== null && Number.isNaN(bad.used)) continue;
      const err = warnings.slice(before).find((w) => w instanceof MetricsError) as MetricsError | undefined;
      assert.equal(err?.code, 'invalid_value', JSON.stringify(bad));
      assert.match(err!.message, /watchDbConnections: (used|idle) \(a connection count >= 0\)/);
    }
    await m.close();
  });

  it("the adapter's methods work detached from it (destructured or passed as callbacks)", async () => {
    // watchDbConnections called this.onCollect: detached, it threw a TypeError.
    const m = createMetrics();
    const { watchDbConnections, watchCache, onCollect, gauge, observeRequest, render, seriesCount, close } =
      m;
    const unwatch = watchDbConnections(() => ({ used: 2, idle: 1 }));
    watchCache({ name: 'memory', stats: () => ({ hits: 1, misses: 0, hitRatio: 1 }) });
    const depth = gauge({ name: 'queue_depth', help: 'Jobs waiting' });
    onCollect(() => depth.set(5));
    observeRequest({ method: 'GET', route: '/a', status: 200, seconds: 0.1 });
    const body = (await render()).body;
    assert.deepEqual(samples(body, 'db_client_connection_count'), [
      'db_client_connection_count{db_client_connection_state="used"} 2',
      'db_client_connection_count{db_client_connection_state="idle"} 1',
    ]);
    assert.deepEqual(samples(body, 'queue_depth'), ['queue_depth 5']);
    assert.equal(seriesCount('cache_requests_total'), 2);
    unwatch();
    await close();
  });

  it('watchDbConnections sets db_client_connection_count{db_client_connection_state} at scrape time', async () => {
    const m = createMetrics();
    let pool: number | { used: number; idle: number } = { used: 4, idle: 6 };
    m.watchDbConnections(async () => pool);
    assert.deepEqual(samples(await text(m), 'db_client_connection_count'), [
      'db_client_connection_count{db_client_connection_state="used"} 4',
      'db_client_connection_count{db_client_connection_state="idle"} 6',
    ]);
    pool = { used: 7, idle: 3 };
    assert.deepEqual(samples(await text(m), 'db_client_connection_count'), [
      'db_client_connection_count{db_client_connection_state="used"} 7',
      'db_client_connection_count{db_client_connection_state="idle"} 3',
    ]);
    const n = createMetrics();
    n.watchDbConnections(() => 2);
    assert.deepEqual(samples(await text(n), 'db_client_connection_count'), [
      'db_client_connection_count{db_client_connection_state="used"} 2',
    ]);
  });

  // The pool closed (a reload, a shutdown) and its watch stopped, or a read that gives no idle
  // count (`0` while a pool is being replaced): the series used to keep the last counts for good.
  for (const [naming, path] of [
    ['otel', 'fast path'],
    ['legacy', 'fast path'],
    ['otel', 'public-API fallback'],
    ['legacy', 'public-API fallback'],
  ] as const) {
    it(`watchDbConnections: a stopped watch takes its series out, a read without idle drops the idle one (${naming}, ${path})`, async () => {
      const probe =
        path === 'fast path' ? {} : { probe: { ok: false as const, reason: 'forced by the test' } };
      const m = createMetricsWith({ naming, logger: { warn() {} } }, probe);
      const name = naming === 'otel' ? 'db_client_connection_count' : 'db_connections_active';
      let pool: number | { used: number; idle: number } = { used: 2, idle: 3 };
      let unwatch = m.watchDbConnections(() => pool);
      assert.equal(samples(await text(m), name).length, naming === 'otel' ? 2 : 1);
      unwatch();
      unwatch();
      assert.deepEqual(samples(await text(m), name), [], 'no counts of a pool no longer watched');
      // Watched again: the series come back; a read without idle leaves no stale idle series.
      unwatch = m.watchDbConnections(() => pool);
      pool = 5;
      assert.deepEqual(
        samples(await text(m), name),
        naming === 'otel'
          ? ['db_client_connection_count{db_client_connection_state="used"} 5']
          : ['db_connections_active 5'],
      );
      // A read still running when its watch stops writes nothing.
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      unwatch();
      const slow = m.watchDbConnections(async () => {
        await gate;
        return { used: 9, idle: 9 };
      });
      const scrape = text(m);
      await new Promise((r) => setImmediate(r));
      slow();
      release();
      await scrape;
      assert.deepEqual(samples(await text(m), name), []);
      await m.close();
    });
  }

  it("naming: 'legacy' sets db_connections_active to the used connections", async () => {
    const m = createMetrics({ naming: 'legacy' });
    let pool: number | { used: number; idle: number } = 4;
    m.watchDbConnections(async () => pool);
    assert.deepEqual(samples(await text(m), 'db_connections_active'), ['db_connections_active 4']);
    pool = { used: 7, idle: 3 };
    assert.deepEqual(samples(await text(m), 'db_connections_active'), ['db_connections_active 7']);
  });
});
