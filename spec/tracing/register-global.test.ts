/**
 * `registerGlobal` with `exporter: 'none'` (propagate-only): the propagator is registered as the
 * global OpenTelemetry one (README), since propagation is all that mode does — it used to register
 * nothing, so third-party code injecting through the global API sent no traceparent. Also from
 * config (`register_global: true`, `exporter: none`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DiagLogLevel, diag, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** What the global propagator writes for a context continuing TP (empty when none is registered). */
function globalInject(): Record<string, string> {
  const extracted = propagation.extract(ROOT_CONTEXT, { traceparent: TP, baggage: 'k=v' });
  const out: Record<string, string> = {};
  propagation.inject(extracted, out);
  return out;
}

describe("registerGlobal with exporter 'none'", () => {
  it('registers the propagator globally; close() unregisters it', async () => {
    assert.deepEqual(globalInject(), {}, 'nothing registered before');
    const tracer = createOtelTracer({ exporter: 'none', registerGlobal: true });
    assert.deepEqual(globalInject(), { traceparent: TP, baggage: 'k=v' });
    assert.deepEqual(propagation.fields().sort(), ['baggage', 'traceparent', 'tracestate']);
    // No provider: the global tracer stays the no-op one.
    assert.equal(trace.getTracer('x').startSpan('s').isRecording(), false);
    await tracer.close();
    assert.deepEqual(globalInject(), {});
  });

  it('a disabled tracer registers nothing', async () => {
    const tracer = createOtelTracer({ exporter: 'none', enabled: false, registerGlobal: true });
    assert.deepEqual(globalInject(), {});
    await tracer.close();
  });

  it('from config: register_global with exporter none registers the propagator', async () => {
    const app = await createAppFromConfig(
      parseConfig({ tracing: { exporter: 'none', register_global: true } }, { env: {} }),
    );
    try {
      assert.deepEqual(globalInject(), { traceparent: TP, baggage: 'k=v' });
    } finally {
      await app.close();
    }
    assert.deepEqual(globalInject(), {});
  });
});

describe('registerGlobal across tracers', () => {
  it('an in-process reload (new tracer built, old one closed) keeps the globals registered: the newest open tracer takes over', async () => {
    // The globals were only removed when their holder closed: a tracer built while another held
    // them never got them, so every other generation ran without global provider or propagator.
    const build = (name: string) =>
      createOtelTracer({ serviceName: name, exporter: 'memory', registerGlobal: true });
    let current = build('v0');
    const closed: Promise<void>[] = [];
    try {
      for (let v = 1; v <= 3; v++) {
        const next = build(`v${v}`);
        const old = current;
        current = next;
        closed.push(old.close());
        await closed.at(-1);
        const raw = trace.getTracer('pg').startSpan('query');
        assert.equal(raw.isRecording(), true, `generation ${v}: the global provider records`);
        raw.end();
        assert.deepEqual(
          current.finishedSpans().map((s) => s.name),
          ['query'],
          `generation ${v}: through its own provider`,
        );
        assert.deepEqual(globalInject(), { traceparent: TP, baggage: 'k=v' }, `generation ${v}: propagator`);
      }
    } finally {
      await current.close();
      await Promise.all(closed);
    }
    // The last one closed: nothing of ours is left registered.
    assert.equal(trace.getTracer('x').startSpan('s').isRecording(), false);
    assert.deepEqual(globalInject(), {});
  });

  it('closing a tracer that holds nothing leaves the holder registered', async () => {
    const first = createOtelTracer({ serviceName: 'a', exporter: 'memory', registerGlobal: true });
    const second = createOtelTracer({ serviceName: 'b', exporter: 'memory', registerGlobal: true });
    try {
      await second.close();
      const raw = trace.getTracer('x').startSpan('s');
      assert.equal(raw.isRecording(), true);
      raw.end();
      assert.deepEqual(
        first.finishedSpans().map((s) => s.name),
        ['s'],
      );
    } finally {
      await first.close();
    }
    assert.deepEqual(globalInject(), {});
  });

  it('a second open tracer does not try to register while ours holds the globals: no duplicate-registration error', async () => {
    // The API logs a refused registration as an error with a stack; the second tracer takes over
    // when the first closes, so that error told the user of a failure that is not one.
    const errors: string[] = [];
    diag.setLogger(
      {
        error: (m: string) => errors.push(m),
        warn: (m: string) => errors.push(m),
        info() {},
        debug() {},
        verbose() {},
      },
      DiagLogLevel.WARN,
    );
    const first = createOtelTracer({ exporter: 'memory', registerGlobal: true });
    const second = createOtelTracer({ exporter: 'memory', registerGlobal: true });
    try {
      await first.close();
    } finally {
      await second.close();
      diag.disable();
    }
    assert.deepEqual(errors, []);
  });

  it('a registerGlobal tracer dropped without close() while another holds the globals stays collectable', async () => {
    // The open claimants are kept for the handover, weakly: held strongly, every such tracer
    // (its provider, its memory exporter's spans) stayed for the life of the process.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const holder = createOtelTracer({ exporter: 'memory', registerGlobal: true });
    const refs: WeakRef<object>[] = [];
    // Built in a function of its own: a loop variable in this frame kept the last one reachable.
    const buildAndDrop = () => {
      const dropped = createOtelTracer({ exporter: 'memory', registerGlobal: true });
      refs.push(new WeakRef(dropped.provider as object));
    };
    for (let i = 0; i < 5; i++) buildAndDrop();
    try {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        gc();
      }
      assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
    } finally {
      await holder.close();
    }
    assert.deepEqual(globalInject(), {}, 'nothing left to hand the globals to');
  });
});
