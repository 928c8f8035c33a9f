/**
 * How many export requests the batching processor (batch.ts) sends for a given stream of spans:
 * the same as the SDK's `BatchSpanProcessor` (same batches, same moments) under the demo's batch
 * settings, one request per full batch or per `scheduledDelayMillis` — never one per span or per
 * service call — and, end to end over OTLP/HTTP, the POSTs a collector receives.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { ExportResultCode } from '@opentelemetry/core';
import { createAccountingBatchProcessor } from '../../lib/tracing/otel/batch.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import type { FinishedSpan, SdkSpanExporter } from '../../lib/tracing/otel/sdk.js';
import { sdk } from './otel-line.js';

/** An exporter that answers after `latencyMs` (a timer: mocked in the tests below) and records batch sizes. */
function countingExporter(latencyMs: number) {
  const batches: { at: number; size: number }[] = [];
  let clock = () => 0;
  const exporter: SdkSpanExporter = {
    export(spans: FinishedSpan[], done) {
      batches.push({ at: clock(), size: spans.length });
      setTimeout(() => done({ code: ExportResultCode.SUCCESS }), latencyMs);
    },
    shutdown: async () => {},
  };
  return { exporter, batches, setClock: (c: () => number) => (clock = c) };
}

const noAccounting = { succeeded() {}, failed() {}, dropped() {} };

/**
 * Ours and the SDK's processor on one provider, so both see every span end at the same moment;
 * `rate(ms)` says how many spans end during millisecond `ms` of a `totalMs` run on mocked timers.
 */
async function run(
  t: TestContext,
  batch: { maxQueueSize: number; maxExportBatchSize: number; scheduledDelayMillis: number },
  latencyMs: number,
  totalMs: number,
  rate: (ms: number) => number,
) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 0;
  const ours = countingExporter(latencyMs);
  const theirs = countingExporter(latencyMs);
  ours.setClock(() => now);
  theirs.setClock(() => now);
  const options = { ...batch, exportTimeoutMillis: 30_000 };
  const provider = sdk.provider({
    sampler: new sdk.AlwaysOnSampler(),
    spanProcessors: [
      createAccountingBatchProcessor({ exporter: ours.exporter, accounting: noAccounting, ...options }),
      sdk.batchProcessor(theirs.exporter, options),
    ],
  });
  const tracer = provider.getTracer('batch-exports');
  // Lets the processors' promise callbacks (export settled → next batch or timer) run.
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  let spans = 0;
  for (; now < totalMs; now++) {
    for (let i = rate(now); i > 0; i--, spans++) tracer.startSpan('s').end();
    t.mock.timers.tick(1);
    await settle();
  }
  t.mock.timers.reset();
  return { ours: ours.batches, theirs: theirs.batches, spans };
}

const DEMO = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000 };

describe('export requests of the batching processor', () => {
  it('the demo settings at the demo bench load (≈ 1,400 spans/s, one service): the same batches as the SDK', async (t) => {
    // 7 spans every 5 ms for 6 s: the queue fills a 512-span batch about every 0.37 s.
    const r = await run(t, DEMO, 3, 6000, (ms) => (ms % 5 === 0 ? 7 : 0));
    assert.deepEqual(r.ours, r.theirs);
    // Full batches only, as soon as they fill (one request per 512 spans, not per service call).
    assert.ok(r.ours.length >= 15 && r.ours.length <= 17, `${r.ours.length} requests for ${r.spans} spans`);
    assert.ok(r.ours.every((b) => b.size === 512));
  });

  it('a trickle (100 spans/s): one request per scheduledDelayMillis (+ export time), like the SDK', async (t) => {
    const r = await run(t, DEMO, 3, 6000, (ms) => (ms % 10 === 0 ? 1 : 0));
    assert.deepEqual(r.ours, r.theirs);
    // The first span starts the 1 s timer; the next one starts when that export has finished.
    assert.equal(r.ours.length, 5);
    const at = r.ours.map((b) => b.at);
    for (let i = 1; i < at.length; i++)
      assert.ok(at[i]! - at[i - 1]! >= 1000 && at[i]! - at[i - 1]! <= 1010, `exports at ${at.join(', ')} ms`);
    assert.ok(r.ours.every((b) => b.size > 90 && b.size <= 101));
  });

  it('bursts and pauses, a slow collector, a small batch size: the same batches as the SDK', async (t) => {
    const batch = { maxQueueSize: 400, maxExportBatchSize: 64, scheduledDelayMillis: 200 };
    // 300 spans at once every 700 ms, a few in between; exports take 150 ms.
    const r = await run(t, batch, 150, 5000, (ms) => (ms % 700 === 0 ? 300 : ms % 37 === 0 ? 1 : 0));
    assert.deepEqual(r.ours, r.theirs);
    assert.ok(r.ours.length > 10);
  });
});

describe('OTLP: POSTs a collector receives', () => {
  /** A collector stand-in on loopback answering each POST after `delayMs`. */
  async function collector(t: TestContext, delayMs = 0) {
    const posts: number[] = [];
    const server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (b: Buffer) => {
        bytes += b.length;
      });
      req.on('end', () => {
        posts.push(bytes);
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(), delayMs);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, posts };
  }

  it('1,200 spans, batches of 512: two requests as the batches fill, one more at flush, none lost', async (t) => {
    const c = await collector(t);
    const tracer = createOtelTracer({
      serviceName: 'batch-exports',
      endpoint: c.endpoint,
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 },
    });
    t.after(() => tracer.close());
    for (let i = 0; i < 1200; i++) tracer.startSpan(`s${i}`).end();
    const deadline = Date.now() + 10_000;
    while (tracer.exportStats().exportedSpans < 1024 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(c.posts.length, 2);
    assert.equal(tracer.exportStats().exportedSpans, 1024);
    await tracer.flush();
    assert.equal(c.posts.length, 3);
    assert.equal(tracer.exportStats().exportedSpans, 1200);
    assert.equal(tracer.exportStats().lostSpans, 0);
  });

  it('spans ended over 1 s with scheduledDelayMillis 300: about one request per delay, not one per span', async (t) => {
    const c = await collector(t);
    const tracer = createOtelTracer({
      serviceName: 'batch-exports',
      endpoint: c.endpoint,
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 300 },
    });
    t.after(() => tracer.close());
    const started = performance.now();
    let spans = 0;
    while (performance.now() - started < 1000) {
      for (let i = 0; i < 5; i++, spans++) tracer.startSpan('s').end();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await tracer.flush();
    // ≈ 1000 / 300 timer exports + the flush; a slow machine can only make fewer, larger ones.
    assert.ok(c.posts.length >= 2 && c.posts.length <= 5, `${c.posts.length} requests for ${spans} spans`);
    assert.equal(tracer.exportStats().exportedSpans, spans);
  });

  // flush() drained the queue until it was empty, spans ended after the call included: with
  // traffic faster than the collector it never resolved (a handler awaiting it hung).
  it('flush() under traffic faster than a slow collector resolves once the spans ended before it are sent', async (t) => {
    const c = await collector(t, 100);
    const tracer = createOtelTracer({
      serviceName: 'batch-exports',
      endpoint: c.endpoint,
      batch: { maxQueueSize: 1000, maxExportBatchSize: 10, scheduledDelayMillis: 10 },
    });
    // ~1,000 spans/s against ~100 spans/s the collector takes (batches of 10, 100 ms each).
    let ended = 0;
    const traffic = setInterval(() => {
      for (let i = 0; i < 10; i++, ended++) tracer.startSpan('steady').end();
    }, 10);
    t.after(async () => {
      clearInterval(traffic);
      await tracer.close({ timeoutMs: 1000 });
    });
    for (let i = 0; i < 25; i++, ended++) tracer.startSpan('before').end();
    const endedBefore = ended;
    // Only a bound for the old behaviour, which never resolves: the fix takes 3–4 exports.
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      tracer.flush().then(() => 'flushed'),
      new Promise((resolve) => {
        bound = setTimeout(() => resolve('still waiting after 20 s'), 20_000);
      }),
    ]);
    clearTimeout(bound);
    assert.equal(outcome, 'flushed', `${tracer.exportStats().exportedSpans} spans exported meanwhile`);
    assert.ok(
      tracer.exportStats().exportedSpans >= endedBefore,
      `${tracer.exportStats().exportedSpans} exported, ${endedBefore} ended before flush()`,
    );
  });
});
