/**
 * An exemplar is kept when its label names and values hold at most 128 characters, counted as
 * OpenMetrics and Prometheus count them: code points. They were counted as UTF-16 units, so a
 * character beyond the BMP (an emoji) counted twice and an exemplar Prometheus stores was dropped.
 * `HYPERION_EXEMPLAR_LENGTH_RUNS` (default 200), `HYPERION_EXEMPLAR_LENGTH_SEED` to replay.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers, freePort, waitFor } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const RUNS = Number(process.env.HYPERION_EXEMPLAR_LENGTH_RUNS ?? 200);
const SEED =
  process.env.HYPERION_EXEMPLAR_LENGTH_SEED === undefined
    ? undefined
    : Number(process.env.HYPERION_EXEMPLAR_LENGTH_SEED);

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';

/** 8 characters of `note` + 100 emoji: 108 characters, 208 UTF-16 units. */
const EMOJI = '😀'.repeat(100);

it(`property: an exemplar is kept exactly when its names and values hold at most 128 characters (${RUNS} runs)`, async () => {
  // ASCII, two-byte, three-byte and four-byte (two UTF-16 units) characters, around the limit.
  const char = fc.constantFrom('a', 'é', '€', '😀', '𝄞');
  await fc.assert(
    fc.asyncProperty(fc.array(char, { minLength: 60, maxLength: 140 }), async (chars) => {
      const value = chars.join('');
      const metrics = createMetrics({ logger: { warn() {} } });
      try {
        const h = metrics.histogram({ name: 'delta', help: 'd', buckets: [1] });
        h.observe({}, 0.5, { trace_id: value });
        const { body } = await metrics.render(OPENMETRICS);
        const kept = /^delta_bucket\{le="1"\} 1 # \{trace_id="/m.test(body);
        assert.equal(kept, 'trace_id'.length + chars.length <= 128, `${chars.length} characters`);
      } finally {
        await metrics.close();
      }
    }),
    { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
  );
});

describeWithServers(
  'an exemplar of 108 characters beyond the BMP, scraped by Prometheus',
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;

    before(async () => {
      const port = await freePort();
      metrics = createMetrics({ port, logger: { warn() {} } });
      await metrics.listen();
      metrics
        .histogram({ name: 'mood_seconds', help: 'Mood', buckets: [1] })
        .observe({}, 0.5, { note: EMOJI });
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], features: ['exemplar-storage'] });
    });

    after(async () => {
      await prom?.stop();
      await metrics?.close();
    });

    it('is served and stored as it was observed', async () => {
      await prom.waitForSeries('mood_seconds_count', (s) => s[0]?.value === 1);
      const now = Date.now() / 1000;
      const query = `/api/v1/query_exemplars?query=${encodeURIComponent('mood_seconds_bucket')}&start=${now - 600}&end=${now + 600}`;
      type Found = {
        seriesLabels: Record<string, string>;
        exemplars: { labels: Record<string, string> }[];
      }[];
      const found = await waitFor(
        async () => {
          const f = (await prom.api(query)) as Found;
          return f.length > 0 ? f : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250, what: 'the exemplar of mood_seconds' },
      );
      assert.deepEqual(
        found.map((f) => [f.seriesLabels.le, f.exemplars.map((e) => e.labels.note)]),
        [['1', [EMOJI]]],
      );
    });
  },
);
