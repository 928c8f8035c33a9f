/**
 * Label values at their edges: very long ones (1 MiB), quotes, backslashes, newlines and lone
 * surrogates. Long values are refused above `MAX_LABEL_VALUE_BYTES` (2048 bytes of UTF-8) with a
 * `MetricsError` that does not echo the value; below it, any well-formed value round-trips through
 * the exposition and a real Prometheus byte for byte.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import * as client from 'prom-client';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { MAX_LABEL_VALUE_BYTES } from '../../lib/metrics/prometheus/series.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const MiB = 'x'.repeat(1 << 20);
const quiet = { warn() {} };

/** The text format's unescaping of a label value (`\\`, `\"`, `\n`). */
const unescapeValue = (v: string) => v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** The label values of the samples of `name` in the text exposition. */
function valuesOf(text: string, name: string, label: string): string[] {
  const re = new RegExp(`^${name}\\{${label}="((?:[^"\\\\]|\\\\.)*)"\\}`, 'gm');
  return [...text.matchAll(re)].map((m) => unescapeValue(m[1]!));
}

function refusal(fn: () => unknown): MetricsError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MetricsError, String(e));
    return e;
  }
  assert.fail('accepted');
}

describe('prometheus metrics: label values', () => {
  it('refuses a 1 MiB label value with invalid_label, naming label, metric and limit, not the value', async () => {
    const m = createMetrics({ logger: quiet });
    const c = m.counter({ name: 'jobs', help: 'Jobs.', labelNames: ['kind'] });
    const h = m.histogram({ name: 'job_seconds', help: 'Job time.', labelNames: ['kind'] });
    for (const record of [() => c.inc({ kind: MiB }), () => h.observe({ kind: MiB }, 1)]) {
      const e = refusal(record);
      assert.equal(e.code, 'invalid_label');
      assert.match(e.message, /label "kind" of metric "(jobs_total|job_seconds)" is 1048576 bytes long/);
      assert.match(e.message, /limited to 2048 bytes/);
      assert.ok(e.message.length < 300, 'the value is not echoed');
    }
    // Nothing was recorded: the exposition holds no series of either metric.
    const text = (await m.render()).body;
    assert.doesNotMatch(text, /^jobs_total\{/m);
    assert.doesNotMatch(text, /^job_seconds_count\{/m);
    assert.ok(text.length < 10_000);
  });

  it('the limit is in UTF-8 bytes: 2048 bytes pass, one more is refused', () => {
    const m = createMetrics({ logger: quiet });
    const c = m.counter({ name: 'edge', help: 'Edge.', labelNames: ['v'] });
    assert.equal(MAX_LABEL_VALUE_BYTES, 2048);
    c.inc({ v: 'a'.repeat(2048) });
    c.inc({ v: 'é'.repeat(1024) }); // 2 bytes each
    c.inc({ v: '€'.repeat(682) + 'ab' }); // 3 bytes each: 2046 + 2
    refusal(() => c.inc({ v: 'a'.repeat(2049) }));
    refusal(() => c.inc({ v: 'é'.repeat(1024) + 'a' }));
    refusal(() => c.inc({ v: '😀'.repeat(513) })); // 4 bytes each (2 UTF-16 units)
  });

  it('property: a value is accepted iff well-formed and ≤ 2048 bytes, and the exposition gives it back exactly', async () => {
    const unit = fc.oneof(
      fc.constantFrom(
        '"',
        '\\',
        '\n',
        '\r',
        '\t',
        '{',
        '}',
        '=',
        ',',
        '#',
        'é',
        '€',
        '😀',
        '\u2028',
        '\uD800',
        '\uDC00',
      ),
      fc.string({ maxLength: 4 }),
    );
    const value = fc.oneof(
      fc.array(unit, { maxLength: 8 }).map((a) => a.join('')),
      // Around the limit: a run of one character, then a tail.
      fc
        .tuple(fc.constantFrom('a', 'é', '€', '😀', '"', '\n'), fc.integer({ min: 500, max: 2100 }), unit)
        .map(([ch, n, tail]) => ch.repeat(n) + tail),
    );
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const m = createMetrics({ logger: quiet });
        const c = m.counter({ name: 'prop', help: 'Prop.', labelNames: ['v'] });
        const ok = (v as string & { isWellFormed(): boolean }).isWellFormed() && Buffer.byteLength(v) <= 2048;
        if (!ok) {
          assert.equal(refusal(() => c.inc({ v })).code, 'invalid_label');
          return;
        }
        c.inc({ v });
        // Sent as UTF-8 and read back: the same value.
        const sent = Buffer.from((await m.render()).body).toString('utf8');
        // '' is no label at all, as Prometheus reads it.
        assert.deepEqual(valuesOf(sent, 'prop_total', 'v'), v === '' ? [] : [v]);
        if (v === '') assert.match(sent, /^prop_total 1$/m);
      }),
      { numRuns: 300 },
    );
  });

  it('defaultLabels: a value over the limit or with a lone surrogate is refused at creation', () => {
    for (const service of ['a'.repeat(2049), 'svc\uD800']) {
      const e = refusal(() => createMetrics({ logger: quiet, defaultLabels: { service } }));
      assert.equal(e.code, 'invalid_label');
      assert.match(e.message, /default label "service"/);
    }
    createMetrics({ logger: quiet, defaultLabels: { service: 'a'.repeat(2048) } });
  });

  it("defaultLabels: an empty value is no label, as for a metric's own labels (both formats, foreign metrics too)", async () => {
    const registry = new client.Registry();
    const foreign = new client.Gauge({
      name: 'their_gauge',
      help: 'x',
      labelNames: ['zone'],
      registers: [registry],
    });
    foreign.set({ zone: '' }, 4);
    const m = createMetrics({ registry, logger: quiet, defaultLabels: { service: 'api', region: '' } });
    m.counter({ name: 'jobs', help: 'Jobs.', labelNames: ['kind'] }).inc({ kind: '' });
    // Not reserved: a metric may declare it (it is on no series).
    m.gauge({ name: 'depth', help: 'Depth.', labelNames: ['region'] }).set({ region: 'eu' }, 1);
    for (const accept of [undefined, 'application/openmetrics-text']) {
      const text = (await m.render(accept)).body;
      // Before: `region=""` on every series, where an empty per-metric value was left out.
      assert.doesNotMatch(text, /=""/);
      assert.match(text, /^jobs_total\{service="api"\} 1$/m);
      assert.match(text, /^depth\{region="eu",service="api"\} 1$/m);
      assert.match(text, /^their_gauge\{service="api"\} 4$/m);
    }
  });

  it('values holding "," ":" or "\\" never share a series with another label set', async () => {
    // prom-client's series key is `a:x,b:y,`: written as-is, {a:'x,b:y'} and {a:'x', b:'y'} had
    // one key, so the second was counted into the first's series (with the first's labels).
    const m = createMetrics({ logger: quiet });
    const groups: Record<string, string>[][] = [
      [{ a: 'x,b:y' }, { a: 'x', b: 'y' }],
      [
        { a: 'x,b:y', b: 'z' },
        { a: 'x', b: 'y,b:z' },
      ],
      [{ a: 'p\\', b: 'q' }, { a: 'p\\,b:q' }, { a: 'p', b: '\\,b:q' }],
      [{ a: 'u,b:v,c:w' }, { a: 'u', b: 'v', c: 'w' }, { a: 'u', b: 'v,c:w' }, { a: 'u,b:v', c: 'w' }],
      [
        { a: 'r,b:s', d: '1' },
        { a: 'r', b: 's', d: '1' },
      ],
    ];
    const names = [
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b', 'c'],
      ['a', 'b', 'c', 'd'],
    ];
    for (const [g, sets] of groups.entries()) {
      const c = m.counter({ name: `collide_${g}`, help: 'Collisions.', labelNames: names[g]! });
      const h = m.histogram({ name: `collide_h_${g}`, help: 'Collisions.', labelNames: names[g]! });
      for (const [i, labels] of sets.entries()) {
        c.inc(labels, i + 1);
        h.observe(labels, i + 1);
      }
      assert.equal(m.seriesCount(`collide_${g}_total`), sets.length, `group ${g}: one series per label set`);
      assert.equal(
        m.seriesCount(`collide_h_${g}`),
        sets.length,
        `group ${g}: one histogram series per label set`,
      );
    }
    const text = (await m.render()).body;
    for (const [g, sets] of groups.entries()) {
      for (const [i, labels] of sets.entries()) {
        const pairs = names[g]!.filter((n) => labels[n] !== undefined)
          .map((n) => `${n}="${labels[n]!.replace(/\\/g, '\\\\')}"`)
          .join(',');
        assert.ok(text.includes(`collide_${g}_total{${pairs}} ${i + 1}\n`), `group ${g} set ${i}: ${pairs}`);
        assert.ok(
          text.includes(`collide_h_${g}_sum{${pairs}} ${i + 1}\n`),
          `group ${g} set ${i}: ${pairs} (sum)`,
        );
      }
    }
  });

  it('instrument(): a route over the limit (a raw URL) is recorded as "unmatched", with one warning', async () => {
    const warnings: string[] = [];
    const m = createMetrics({ logger: { warn: (msg) => void warnings.push(msg) } });
    const server = createServer(
      m.instrument((_req, res) => res.end('ok'), { route: (req) => `/${req.url}${MiB}` }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/a`;
      for (let i = 0; i < 3; i++) assert.equal(await (await fetch(url)).text(), 'ok');
      const text = (await m.render()).body;
      assert.deepEqual(
        valuesOf(text, 'http_server_request_duration_seconds_count', 'http_request_method'),
        [],
      );
      assert.match(text, /http_server_request_duration_seconds_count\{[^}]*http_route="unmatched"[^}]*\} 3/);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /longer than 2048 bytes/);
    } finally {
      server.close();
    }
  });
});

describeWithServers(
  'prometheus metrics: edge label values scraped by a real Prometheus',
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;
    /** A value at the limit with everything the text format escapes, and a few short ones. */
    const VALUES = [
      `${'q"b\\n\n'.repeat(200)}${'é'.repeat(1024 - 600)}`, // 2048 bytes
      'a"b\\c\nd',
      '€😀\u2028',
      '',
    ];
    const HELP = `${'q"b\\n\n\r\t'.repeat(100)}${'é'.repeat(112)}`;

    before(async () => {
      metrics = createMetrics({ port: 0, logger: quiet });
      const c = metrics.counter({ name: 'edge_values', help: 'Edge values.', labelNames: ['v', 'i'] });
      for (const [i, v] of VALUES.entries()) c.inc({ v, i: String(i) }, i + 1);
      // Refused, so absent from every scrape: they must not break it.
      assert.throws(() => c.inc({ v: MiB, i: 'big' }), MetricsError);
      assert.throws(() => c.inc({ v: '\uD800', i: 'lone' }), MetricsError);
      // Exemplars (OpenMetrics, which Prometheus asks for) with the same edge values: kept; one
      // holding a NUL is refused — accepted before, it made Prometheus fail every scrape
      // ("expected label value, got INVALID"), though a NUL in a series' label value parses.
      const h = metrics.histogram({ name: 'edge_exemplars', help: 'x', labelNames: ['v'], buckets: [1] });
      h.observe({ v: 'a\u0000b' }, 0.5, { trace_id: 'a"b\\c\nd\r\t€😀\u2028' });
      assert.throws(() => h.observe({ v: 'nul' }, 0.5, { trace_id: 'a\u0000b' }), { code: 'invalid_label' });
      // '' and absent are one label set to Prometheus: they must be one series here too.
      const e = metrics.counter({ name: 'empty_or_absent', help: 'x', labelNames: ['k', 'j'] });
      e.inc({}, 1);
      e.inc({ k: '' }, 2);
      e.inc({ k: '', j: '' }, 4);
      e.inc({ k: 'a', j: '' }, 8);
      e.inc({ k: 'a' }, 16);
      // A help text at its limit (1024 bytes) made of what the formats escape.
      metrics.gauge({ name: 'edge_help', help: HELP }).set(1);
      const addr = await metrics.listen();
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${addr!.port}`] });
    });
    after(async () => {
      await prom?.stop();
      await metrics?.close();
    });

    it("a label given as '' and one left out are the same series, as Prometheus stores them", async () => {
      // Before, {k: ''} was a series of its own, written as empty_or_absent_total{k=""} beside
      // empty_or_absent_total: one series twice in a scrape, and Prometheus kept only the first (1, not 7).
      const body = (await metrics.render()).body;
      assert.deepEqual(
        body.split('\n').filter((l) => l.startsWith('empty_or_absent_total')),
        ['empty_or_absent_total 7', 'empty_or_absent_total{k="a"} 24'],
      );
      assert.equal(metrics.seriesCount('empty_or_absent_total'), 2);
      const samples = await prom.waitForSeries('empty_or_absent_total', (s) => s.length === 2);
      assert.deepEqual(samples.map((s) => [s.metric.k ?? '', s.value]).sort(), [
        ['', 7],
        ['a', 24],
      ]);
    });

    it('stores a help text at its 1024-byte limit byte for byte (newlines, backslashes, quotes)', async () => {
      assert.equal(Buffer.byteLength(HELP), 1024);
      await prom.waitForSeries('edge_help');
      const meta = (await prom.api('/api/v1/metadata?metric=edge_help')) as Record<
        string,
        { help: string }[]
      >;
      assert.equal(meta.edge_help?.[0]?.help, HELP);
    });

    it('stores every value byte for byte (a series with an empty value is no label at all)', async () => {
      assert.equal(Buffer.byteLength(VALUES[0]!), 2048);
      const samples = await prom.waitForSeries('edge_values_total', (s) => s.length === VALUES.length);
      const byIndex = new Map(samples.map((s) => [s.metric.i, s]));
      VALUES.forEach((v, i) => {
        const s = byIndex.get(String(i));
        assert.ok(s, `series ${i}`);
        assert.equal(s.metric.v ?? '', v, `value ${i}`);
        assert.equal(s.value, i + 1);
      });
      const targets = (await prom.api('/api/v1/targets')) as {
        activeTargets: { health: string; lastError: string }[];
      };
      assert.deepEqual(
        targets.activeTargets.map((t) => [t.health, t.lastError]),
        [['up', '']],
      );
    });
  },
);
