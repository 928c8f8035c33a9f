/**
 * The SDK coupling: which line is loaded, that the private fields sdk-internals.ts reads still
 * have the shape it needs on the installed SDK (this fails when an update changes them), that
 * the public fallback gives the same spans, and that one copy of @opentelemetry/api serves the
 * whole process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../../lib/core/contracts.js';
import { createOtelTracer, type ProviderOtelTracer } from '../../lib/tracing/otel/index.js';
import { loadPeer } from '../../lib/tracing/otel/sdk.js';
import {
  checkSdkInternals,
  forceSdkInternals,
  hasJaegerSender,
} from '../../lib/tracing/otel/sdk-internals.js';
import { UnsampledSpan } from '../../lib/tracing/otel/span.js';
import { tempDir } from '../harness/process.js';
import { EXPECTED_LINE, rawProvider, sdk } from './otel-line.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

const SAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const UNSAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';

function warnings() {
  const seen: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message) => seen.push(message),
    error() {},
    child: () => logger,
  };
  return { logger, seen };
}

describe(`OpenTelemetry SDK coupling (${sdk.packageName} ${sdk.version})`, () => {
  it('loads the line this run installed', () => {
    assert.equal(sdk.line, EXPECTED_LINE);
    assert.equal(
      sdk.packageName,
      EXPECTED_LINE === 3 ? '@opentelemetry/sdk-trace' : '@opentelemetry/sdk-trace-base',
    );
    assert.match(sdk.version, EXPECTED_LINE === 3 ? /^3\.1\./ : /^2\.12\./);
  });

  it('every private field sdk-internals.ts reads has the expected shape on the installed SDK', () => {
    assert.deepEqual(checkSdkInternals(sdk).problems, []);
  });

  it('the jaeger exporter (2.x only) still has the sender field we close', { skip: sdk.line === 3 }, () => {
    const m = loadPeer<typeof import('@opentelemetry/exporter-jaeger')>(
      '@opentelemetry/exporter-jaeger',
      'test',
    );
    assert.equal(hasJaegerSender(new m.JaegerExporter({ endpoint: 'http://127.0.0.1:1/api/traces' })), true);
    assert.equal(hasJaegerSender({}), false);
  });

  it('with the internals unusable (forced): one warning per logger, the SDK path, the same spans', async () => {
    const exporter = new sdk.InMemorySpanExporter();
    const provider = rawProvider({
      exporter,
      sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    });
    const run = (tracer: ProviderOtelTracer) => {
      const root = tracer.startSpan('root');
      const child = tracer.startSpan('child', { parent: root });
      const sampledParent = tracer.extract({ traceparent: SAMPLED }).parent;
      const recorded = tracer.startSpan('recorded', { parent: sampledParent });
      const unsampledParent = tracer.extract({ traceparent: UNSAMPLED, tracestate: 'v=1' }).parent;
      const dropped = tracer.startSpan('dropped', { parent: unsampledParent });
      for (const s of [root, child, recorded, dropped]) s.end();
      return { root, child, recorded, dropped };
    };
    const check = (spans: ReturnType<typeof run>) => {
      assert.equal(spans.root.isRecording(), false);
      assert.match(spans.root.spanContext().traceId, /^(?!0{32})[0-9a-f]{32}$/);
      assert.equal(spans.root.spanContext().traceFlags, 0);
      assert.equal(spans.child.spanContext().traceId, spans.root.spanContext().traceId);
      assert.equal(spans.child.isRecording(), false);
      assert.equal(spans.dropped.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(spans.dropped.spanContext().traceState, 'v=1');
      assert.equal(spans.dropped.spanContext().traceFlags, 0);
      assert.equal(spans.recorded.spanContext().traceFlags, 1);
      const finished = exporter.getFinishedSpans();
      assert.deepEqual(
        finished.map((s) => s.name),
        ['recorded'],
      );
      assert.equal(finished[0]?.parentSpanContext?.spanId, '00f067aa0ba902b7');
      exporter.reset();
    };

    // Internals usable: dropped spans take the shortcut, no warning.
    const quiet = warnings();
    const fast = run(createOtelTracer({ provider, logger: quiet.logger }));
    check(fast);
    assert.ok(fast.root instanceof UnsampledSpan && fast.dropped instanceof UnsampledSpan);
    assert.deepEqual(quiet.seen, []);

    forceSdkInternals('fallback');
    try {
      const { logger, seen } = warnings();
      const a = createOtelTracer({ provider, logger });
      const b = createOtelTracer({ provider, logger });
      assert.equal(seen.length, 1, 'one warning per logger');
      assert.match(seen[0]!, /public API only/);
      for (const tracer of [a, b]) {
        const spans = run(tracer);
        check(spans);
        assert.ok(!(spans.root instanceof UnsampledSpan) && !(spans.dropped instanceof UnsampledSpan));
      }
      // A provider the adapter builds reads no internals: same fast path, no warning.
      const own = warnings();
      const built = createOtelTracer({ exporter: 'memory', sampleRate: 0, logger: own.logger });
      assert.ok(built.startSpan('x') instanceof UnsampledSpan);
      assert.deepEqual(own.seen, []);
      await built.close();
    } finally {
      forceSdkInternals(undefined);
    }
    await provider.shutdown();
  });

  it('one copy of @opentelemetry/api serves the adapter, the SDK and every peer it loads', async () => {
    const tracers = [
      createOtelTracer({
        exporter: 'memory',
        propagators: ['tracecontext', 'baggage', 'b3'],
        activeContext: true,
      }),
      createOtelTracer({ exporter: 'otlp', endpoint: 'http://127.0.0.1:1/v1/traces' }),
      createOtelTracer({ exporter: 'zipkin', endpoint: 'http://127.0.0.1:1/api/v2/spans' }),
      ...(sdk.line === 2
        ? [
            createOtelTracer({
              exporter: 'jaeger',
              endpoint: 'http://127.0.0.1:1/api/traces',
              propagators: ['jaeger'],
            }),
          ]
        : []),
    ];
    // Entry files of @opentelemetry/api that were loaded, by whichever loader.
    const entries = (files: Iterable<string>) => [
      ...new Set([...files].filter((f) => /@opentelemetry\/api\/(dist|build\/src)\/index\.[cm]?js$/.test(f))),
    ];
    let loaded: string[];
    if (sdk.line === 3) {
      // Under tsx, a require() of an ES module (how the adapter loads its peers, lib/tracing/otel/
      // sdk.ts) is compiled to CommonJS by tsx itself: a copy that no application running the
      // built package gets. So the 3.x check runs the built adapter in a plain Node child, where
      // spec/otel3/resolve.mjs records every @opentelemetry/api file loaded, by import or require.
      const tmp = await tempDir('one-api');
      const dir = tmp.path;
      const built = spawnSync(
        process.execPath,
        [
          join(repo, 'node_modules/typescript/bin/tsc'),
          '-p',
          join(repo, 'tsconfig.build.json'),
          '--outDir',
          join(dir, 'dist'),
          '--declaration',
          'false',
        ],
        { cwd: repo, encoding: 'utf8', timeout: 180_000 },
      );
      assert.equal(built.status, 0, built.stdout + built.stderr);
      const probe = join(dir, 'probe.mjs');
      writeFileSync(
        probe,
        `import { createRequire } from 'node:module';
const { createOtelTracer } = await import(${JSON.stringify(pathToFileURL(join(dir, 'dist/tracing/otel/index.js')).href)});
const tracers = [
  createOtelTracer({ exporter: 'memory', propagators: ['tracecontext', 'baggage', 'b3'], activeContext: true }),
  createOtelTracer({ exporter: 'otlp', endpoint: 'http://127.0.0.1:1/v1/traces' }),
  createOtelTracer({ exporter: 'zipkin', endpoint: 'http://127.0.0.1:1/api/v2/spans' }),
];
tracers[0].startSpan('s').end();
const esm = [...globalThis[Symbol.for('hyperion.otel3.apiFiles')]];
const cjs = Object.keys(createRequire(import.meta.url).cache);
await Promise.all(tracers.map((t) => t.close()));
console.log(JSON.stringify({ esm, cjs }));
`,
      );
      const env = { ...process.env };
      delete env.NODE_OPTIONS; // no tsx: the built code as an application runs it
      const child = spawnSync(
        process.execPath,
        ['--import', pathToFileURL(join(repo, 'spec/otel3/resolve.mjs')).href, probe],
        { cwd: repo, env, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(child.status, 0, child.stdout + child.stderr);
      const seen = JSON.parse(child.stdout.trim().split('\n').pop()!) as { esm: string[]; cjs: string[] };
      loaded = entries([...seen.esm.map((u) => fileURLToPath(u)), ...seen.cjs]);
      assert.deepEqual(loaded.length, 1, loaded.join('\n'));
      assert.match(loaded[0]!, /spec\/otel3\/node_modules\/@opentelemetry\/api\/dist\/index\.mjs$/);
      await tmp.remove();
    } else {
      // 2.x packages are CommonJS only: every copy shows up in the require cache.
      loaded = entries(Object.keys(createRequire(import.meta.url).cache));
      assert.equal(loaded.length, 1, loaded.join('\n'));
    }
    await Promise.all(tracers.map((t) => t.close()));
  });

  // A process whose resolver finds neither SDK package (module.registerHooks: Node ≥ 22.15).
  const canHide = typeof (nodeModule as { registerHooks?: unknown }).registerHooks === 'function';
  it('with no SDK installed: a TracingError that names both lines', {
    skip: !canHide && 'needs module.registerHooks',
  }, async () => {
    const dir = await tempDir('no-sdk');
    try {
      const hook = join(dir.path, 'hide-sdk.mjs');
      writeFileSync(
        hook,
        `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    if (/^@opentelemetry\\/sdk-trace(-base)?$/.test(specifier)) {
      const e = new Error('not installed: ' + specifier);
      e.code = 'ERR_MODULE_NOT_FOUND';
      throw e;
    }
    return next(specifier, context);
  },
});
`,
      );
      const lib = pathToFileURL(
        fileURLToPath(new URL('../../lib/tracing/otel/index.ts', import.meta.url)),
      ).href;
      const script = `import(${JSON.stringify(lib)}).then(({ createOtelTracer }) => {
  try { createOtelTracer({ exporter: 'memory' }); console.log('created'); }
  catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
  try { createOtelTracer({ enabled: false }).startSpan('x').end(); console.log('disabled ok'); }
  catch (e) { console.log('disabled threw ' + e.code); }
});`;
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--import', pathToFileURL(hook).href, '-e', script],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      const [first, second] = r.stdout.trim().split('\n');
      const err = JSON.parse(first ?? '{}');
      assert.equal(err.name, 'TracingError', r.stdout + r.stderr);
      assert.equal(err.code, 'otel_sdk_missing');
      assert.match(err.message, /@opentelemetry\/sdk-trace@3/);
      assert.match(err.message, /@opentelemetry\/sdk-trace-base@2/);
      assert.equal(second, 'disabled ok', 'a disabled tracer needs no SDK');
    } finally {
      await dir.remove();
    }
  });
});
