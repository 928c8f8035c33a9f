/**
 * `spans_exported_total` / `spans_dropped_total`, which `createApp` wires from the tracer's
 * `exportStats()` into its metrics adapter, equal the tracer's own counts. Two apps built on one
 * tracer and one metrics adapter each added every export and drop: 10 spans exported read as
 * `spans_exported_total 20`.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import pino from 'pino';
import { createApp } from '../../lib/core/app.js';
import { adaptLogger, ConfigError, watchTracerStats } from '../../lib/core/index.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

it('two apps on one tracer and one metrics adapter count each exported and dropped span once', async (t) => {
  // A collector that takes the exports (zipkin answers 202), then refuses them.
  let refuse = false;
  const collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(refuse ? 500 : 202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    collector.closeAllConnections();
    collector.close();
  });
  const { port } = collector.address() as { port: number };
  const tracer = createOtelTracer({
    serviceName: 'twice',
    exporter: 'zipkin',
    endpoint: `http://127.0.0.1:${port}`,
  });
  const metrics = createMetrics({});
  const first = createApp({ tracer, metrics });
  const second = createApp({ tracer, metrics });
  t.after(async () => {
    await first.close();
    await second.close();
  });

  for (let i = 0; i < 10; i++) tracer.startSpan('sent').end();
  await tracer.flush();
  refuse = true;
  for (let i = 0; i < 5; i++) tracer.startSpan('refused').end();
  await assert.rejects(tracer.flush());

  const stats = tracer.exportStats();
  assert.equal(stats.exportedSpans, 10);
  assert.equal(stats.droppedSpans.export_failed, 5);
  const text = (await metrics.render()).body;
  assert.match(text, /^spans_exported_total 10$/m);
  assert.match(text, /^spans_dropped_total\{reason="export_failed"\} 5$/m);
});

it('a watch after an unwatch of the same pair goes on from the count, without adding the totals again', async (t) => {
  const collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    collector.closeAllConnections();
    collector.close();
  });
  const { port } = collector.address() as { port: number };
  const tracer = createOtelTracer({
    serviceName: 'rewatch',
    exporter: 'zipkin',
    endpoint: `http://127.0.0.1:${port}`,
  });
  const metrics = createMetrics({});
  t.after(async () => {
    await tracer.close();
    await metrics.close();
  });

  const stop = watchTracerStats(metrics, tracer);
  assert.equal(typeof stop, 'function');
  for (let i = 0; i < 10; i++) tracer.startSpan('sent').end();
  await tracer.flush();
  assert.match((await metrics.render()).body, /^spans_exported_total 10$/m);
  stop?.();
  // Spans exported while nobody watches are taken by the next watch: the counter equals the totals.
  for (let i = 0; i < 2; i++) tracer.startSpan('unwatched').end();
  await tracer.flush();
  const again = watchTracerStats(metrics, tracer);
  assert.equal(typeof again, 'function');
  assert.equal(watchTracerStats(metrics, tracer), undefined, 'a second watch while one is active');
  for (let i = 0; i < 3; i++) tracer.startSpan('rewatched').end();
  await tracer.flush();
  assert.equal(tracer.exportStats().exportedSpans, 15);
  assert.match((await metrics.render()).body, /^spans_exported_total 15$/m);
  again?.();
});

// Found from outside (/tmp/K9/r2.mts, r5.mts): the logger was typed `Logger` (with `child`), so a
// README-style call with `console` or a pino instance did not compile, and pino given anyway (cast)
// took the message-first record's fields as format arguments: "not registered" came without the
// error. A tracer or metrics that is `undefined` gave a raw TypeError or a silent `undefined`.
it('watchTracerStats takes a pino instance or console as its logger, and names a bad argument', async (t) => {
  const tracer = createOtelTracer({ serviceName: 'logged', exporter: 'memory' });
  const metrics = createMetrics({});
  t.after(async () => {
    await tracer.close();
    await metrics.close();
  });
  // The name taken with other labels: the watch cannot register and logs why.
  metrics.counter({ name: 'spans_exported_total', help: 'taken', labelNames: ['other'] });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  assert.equal(watchTracerStats(metrics, tracer, pino({ level: 'debug' }, sink)), undefined);
  const record = lines.find((l) => l.msg === 'tracing: span export metrics not registered');
  assert.ok(record, JSON.stringify(lines));
  assert.equal(typeof record.error, 'object', JSON.stringify(record));
  // `console` compiles as the logger (the call is not made: it would print).
  const withConsole: Parameters<typeof watchTracerStats> = [metrics, tracer, console];
  assert.equal(withConsole.length, 3);

  const refused = (args: unknown[], path: string) =>
    assert.throws(
      () => (watchTracerStats as (...a: unknown[]) => unknown)(...args),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === path),
    );
  refused([metrics, undefined], 'tracer');
  refused([undefined, tracer], 'metrics');
  refused([metrics, tracer, 'warn'], 'logger');
  assert.throws(
    () => (adaptLogger as (l: unknown) => unknown)(undefined),
    (e: unknown) => e instanceof ConfigError && e.issues[0]?.path === 'logger',
  );
});
