/**
 * A new trace started in propagate-only mode (`createPropagateOnlyTracer`, `createOtelTracer({
 * exporter: 'none' })`) gets the sampled flag OpenTelemetry's parent-based ratio sampler gives its
 * trace id — the SDK's `TraceIdRatioBasedSampler` decides a root by the id, deterministically. It
 * was a `Math.random()` draw: at rate 0.3, ~40 % of new trace ids got the opposite decision from a
 * recording service (or the raw SDK) with the same `OTEL_TRACES_SAMPLER=parentbased_traceidratio`.
 * Found by comparing a raw-SDK service and a Hyperion one on the same trace ids (lib/tracing/README.md,
 * "Migrating from the raw OpenTelemetry SDK").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tracer } from '../../lib/core/contracts.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

const RATE = 0.3;
const N = 400;

function mismatches(tracer: Tracer): { mismatched: number; sampled: number } {
  // The installed line's Sampler (typed `object` by our SDK loader, which names no SDK type).
  const reference = new sdk.TraceIdRatioBasedSampler(RATE) as {
    shouldSample(...args: unknown[]): { decision: number };
  };
  let mismatched = 0;
  let sampled = 0;
  for (let i = 0; i < N; i++) {
    const span = tracer.startSpan('root');
    const { traceId, traceFlags } = span.spanContext();
    span.end();
    // SamplingDecision.RECORD_AND_SAMPLED is 2 on both lines; context, name and kind are not read.
    const want = reference.shouldSample({}, traceId, 'root', 0, {}, []).decision === 2;
    if ((traceFlags & 1) === 1) sampled++;
    if (want !== ((traceFlags & 1) === 1)) mismatched++;
  }
  return { mismatched, sampled };
}

describe('propagate-only root sampling follows the trace id', () => {
  it('createPropagateOnlyTracer: same decision as the SDK ratio sampler for every new trace id', () => {
    const { mismatched, sampled } = mismatches(createPropagateOnlyTracer({ sampleRate: RATE }));
    assert.equal(mismatched, 0);
    assert.ok(sampled > 0 && sampled < N, `some sampled, some not (${sampled}/${N})`);
  });

  it("createOtelTracer({ exporter: 'none' }): the same", async () => {
    const tracer = createOtelTracer({ serviceName: 'po', exporter: 'none', sampleRate: RATE });
    try {
      const { mismatched, sampled } = mismatches(tracer);
      assert.equal(mismatched, 0);
      assert.ok(sampled > 0 && sampled < N, `some sampled, some not (${sampled}/${N})`);
    } finally {
      await tracer.close();
    }
  });

  it('a recording tracer agrees with the SDK too (unchanged reference)', async () => {
    const tracer = createOtelTracer({ serviceName: 'rec', exporter: 'memory', sampleRate: RATE });
    try {
      assert.equal(mismatches(tracer).mismatched, 0);
    } finally {
      await tracer.close();
    }
  });

  it('a `random` given still decides alone (tests)', () => {
    for (const r of [0.1, 0.9]) {
      const span = createPropagateOnlyTracer({ sampleRate: 0.5, random: () => r }).startSpan('s');
      assert.equal(span.spanContext().traceFlags & 1, r < 0.5 ? 1 : 0);
    }
  });
});
