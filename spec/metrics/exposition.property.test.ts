/**
 * Property: whatever metrics an application registers (names chosen to collide: the same base
 * with every suffix Prometheus and OpenMetrics give meaning to) and whatever label values it
 * records (any UTF-16, quotes, backslashes, newlines, lone surrogates), either the call throws a
 * MetricsError or the exposition stays valid: `promtool check metrics` finds no parse error in
 * the text format, no series is written twice (as UTF-8 bytes), and the OpenMetrics output has
 * one family per name and no sample claimed by two families. `HYPERION_EXPO_RUNS` (default 60), `HYPERION_EXPO_SEED` to replay.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import fc from 'fast-check';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers, findBinary } from '../harness/process.js';
import { skipPromtool } from '../harness/prometheus.js';

const RUNS = Number(process.env.HYPERION_EXPO_RUNS ?? 60);
const SEED =
  process.env.HYPERION_EXPO_SEED === undefined ? undefined : Number(process.env.HYPERION_EXPO_SEED);

function promtool(text: string): { code: number | null; output: string } {
  const r = spawnSync(findBinary('promtool')!, ['check', 'metrics'], { input: text, timeout: 15_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Lint findings (exit 3) are naming advice; anything else is a parse error. */
const LINT =
  /should not|should have|metric names should|counter metrics should|non-histogram|non-counter|has no help|_total suffix/;

const unit = fc.oneof(
  fc.constantFrom('"', '\\', '\n', '\r', '\t', ' ', ',', '{', '}', '=', '#', 'é', '\u2028', '\uFEFF'),
  fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF'), // lone surrogates
  fc.string({ maxLength: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 2 }),
);
const labelValue = fc.oneof(
  fc.constantFrom('\uD800', '\uDC00', 'x'), // values that collide once encoded, and one that does not
  fc.array(unit, { maxLength: 6 }).map((a) => a.join('')),
);

const op = fc.record({
  type: fc.constantFrom('counter', 'gauge', 'histogram') as fc.Arbitrary<'counter' | 'gauge' | 'histogram'>,
  base: fc.constantFrom('foo', 'foo', 'foo_total', 'bar'),
  suffix: fc.constantFrom('', '', '', '_total', '_count', '_sum', '_bucket', '_created'),
  labels: fc.oneof(
    fc.constant<string[]>([]),
    fc.subarray(['a', 'b']),
    fc.subarray(['a', 'le', 'quantile']),
  ) as fc.Arbitrary<string[]>,
  values: fc.array(fc.tuple(labelValue, labelValue), { minLength: 1, maxLength: 4 }),
});

function familyProblems(om: string): string[] {
  const problems: string[] = [];
  const families = new Map<string, string>();
  let current = '';
  let type = '';
  for (const line of om.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      if (families.has(t[1]!)) problems.push(`family ${t[1]} declared twice`);
      families.set(t[1]!, t[2]!);
      [current, type] = [t[1]!, t[2]!];
      continue;
    }
    if (line.startsWith('#') || line === '') continue;
    const sample = /^[^{ ]+/.exec(line)![0];
    const allowed =
      type === 'counter'
        ? [`${current}_total`, `${current}_created`]
        : type === 'histogram'
          ? [`${current}_bucket`, `${current}_sum`, `${current}_count`, `${current}_created`]
          : [current];
    if (!allowed.includes(sample)) problems.push(`sample ${sample} under family ${current} (${type})`);
  }
  // No family name may be the sample name of another family.
  for (const [f, t] of families) {
    const samples =
      t === 'counter' ? [`${f}_total`] : t === 'histogram' ? [`${f}_bucket`, `${f}_sum`, `${f}_count`] : [f];
    for (const s of samples)
      if (s !== f && families.has(s)) problems.push(`${t} ${f} writes ${s}, also a family`);
  }
  return problems;
}

describeWithServers(
  'prometheus metrics: any registrations and label values give a valid exposition',
  skipPromtool(),
  () => {
    it(`property: promtool parses the text format, OpenMetrics families are unique (${RUNS} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
          const m = createMetrics({ logger: { warn() {} }, maxSeriesPerMetric: 50 });
          try {
            for (const o of ops) {
              let metric: unknown;
              try {
                const opts = {
                  name: `${o.base}${o.suffix}`,
                  help: `help of ${o.base}`,
                  labelNames: o.labels,
                };
                metric =
                  o.type === 'counter'
                    ? m.counter(opts)
                    : o.type === 'gauge'
                      ? m.gauge(opts)
                      : m.histogram(opts);
              } catch (err) {
                if (!(err instanceof MetricsError)) throw err;
                continue;
              }
              for (const [x, y] of o.values) {
                const labels: Record<string, string> = {};
                o.labels.forEach((l, i) => {
                  labels[l] = i % 2 === 0 ? x : y;
                });
                try {
                  if (o.type === 'histogram')
                    (metric as { observe(l: object, v: number): void }).observe(labels, 0.2);
                  else if (o.type === 'gauge') (metric as { set(l: object, v: number): void }).set(labels, 1);
                  else (metric as { inc(l: object): void }).inc(labels);
                } catch (err) {
                  if (!(err instanceof MetricsError)) throw err;
                }
              }
            }
            const text = (await m.render()).body;
            const { code, output } = promtool(text);
            const parseErrors = output
              .trim()
              .split('\n')
              .filter((l) => l !== '' && !LINT.test(l));
            assert.ok(
              code === 0 || (code === 3 && parseErrors.length === 0),
              `promtool exit ${code}:\n${output}\n${text}`,
            );
            // Prometheus drops all but one of samples with the same series (promtool does not check):
            // compared as the bytes sent (UTF-8), where two lone surrogates both become U+FFFD.
            const series = Buffer.from(text)
              .toString('utf8')
              .split('\n')
              .filter((l) => l !== '' && !l.startsWith('#'))
              .map((l) => l.slice(0, l.lastIndexOf(' ')));
            const dupes = series.filter((x, i) => series.indexOf(x) !== i);
            assert.deepEqual(dupes, [], `series exposed twice:\n${text}`);
            const om = (await m.render('application/openmetrics-text')).body;
            assert.deepEqual(familyProblems(om), [], om);
          } finally {
            await m.close();
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    });
  },
);
