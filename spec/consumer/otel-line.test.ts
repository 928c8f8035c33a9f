/**
 * The published package in a fresh consumer project, on the OpenTelemetry line this run uses
 * (2.x on Node 20, 3.x on Node ≥ 22.15 with HYPERION_OTEL_LINE=3): `npm pack` of the built
 * package, `npm install` of the tarball with only the peers the tracing subpath needs (from the
 * registry, npm cache first) — with no peer or engine warning —, a typecheck of the consumer's
 * code against our declarations with `skipLibCheck: false`, and a traced request whose parent
 * comes from an incoming `traceparent`, found in a real Jaeger with that parent.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, startAll, tempDir, waitFor } from '../harness/process.js';
import {
  buildAndPack,
  INSTALL_WARNING,
  installedVersion,
  installProject,
  run,
  typecheck,
} from './project.js';

const line: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;
/** The peers an application on each line installs for `hyperion/tracing/otel` with OTLP export. */
const PEERS = {
  2: [
    '@opentelemetry/api@1.9',
    '@opentelemetry/sdk-trace-base@2.12',
    '@opentelemetry/exporter-trace-otlp-proto@0.223',
  ],
  3: [
    '@opentelemetry/api@1.10',
    '@opentelemetry/sdk-trace@3',
    '@opentelemetry/exporter-trace-otlp-proto@0.301',
  ],
}[line];

const APP = `import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from 'hyperion';
import { traceHandler } from 'hyperion/tracing';
import { createOtelTracer, type OtelTracer, type OtelTracerOptions } from 'hyperion/tracing/otel';

const options: OtelTracerOptions = {
  serviceName: process.env.SERVICE_NAME!,
  exporter: 'otlp',
  endpoint: process.env.OTLP_ENDPOINT!,
  batch: { scheduledDelayMillis: 50 },
};
const tracer: OtelTracer = createOtelTracer(options);
const app = createApp({ tracer });
const server = createServer(
  traceHandler(app.ctx, (_ctx, _req, res) => {
    res.end('ok');
  }, { route: '/hello' }),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const res = await fetch(\`http://127.0.0.1:\${port}/hello\`, { headers: { traceparent: process.env.TRACEPARENT! } });
const body = await res.text();
server.close();
await app.close();
console.log(JSON.stringify({ status: res.status, body, stats: tracer.exportStats() }));
`;

// Run with CommonJS require(): one span under an incoming parent, and the TracingError code that
// `exporter: 'jaeger'` gives in this project.
const CJS_CHECK = `const { createOtelTracer } = require('hyperion/tracing/otel');
const tracer = createOtelTracer({ exporter: 'memory' });
const parent = tracer.extract({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }).parent;
tracer.startSpan('cjs', { parent }).end();
let line = 'created';
try {
  createOtelTracer({ exporter: 'jaeger' }).close();
} catch (e) {
  line = e.code;
}
const spans = tracer.finishedSpans();
console.log(JSON.stringify({ line, spans: spans.length, parent: spans[0]?.parentSpanContext?.spanId }));
`;

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

describeWithServers(
  `consumer project on the OpenTelemetry ${line}.x line (Node ${process.version})`,
  skip,
  () => {
    let jaeger: Jaeger;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    before(async () => {
      [jaeger, dir] = await startAll([startJaeger(), tempDir(`consumer-otel${line}`)]);
    });
    after(async () => {
      await Promise.allSettled([jaeger?.stop(), dir?.remove()]);
    });

    it('installs without peer warnings, typechecks strictly and traces a request into Jaeger', {
      timeout: 420_000,
    }, async () => {
      // The package as published: built now, packed by npm.
      const tarball = await buildAndPack(dir.path);
      const project = join(dir.path, 'app');
      const install = await installProject(project, tarball, PEERS);
      assert.doesNotMatch(install, INSTALL_WARNING, install);
      assert.match(installedVersion(project, '@opentelemetry/api'), line === 3 ? /^1\.10\./ : /^1\.9\./);
      await typecheck(project, { 'app.ts': APP });

      const traceId = `${line}${'a1b2c3d4e5f60718293a4b5c6d7e8f9'.slice(0, 31)}`;
      const parentSpanId = '00f067aa0ba902b7';
      const out = await run(process.execPath, [join(project, 'out/app.js')], project, 60_000, {
        SERVICE_NAME: `consumer-otel${line}`,
        OTLP_ENDPOINT: jaeger.otlpEndpoint,
        TRACEPARENT: `00-${traceId}-${parentSpanId}-01`,
      });
      const result = JSON.parse(out.trim().split('\n').pop()!);
      assert.equal(result.status, 200);
      assert.equal(result.body, 'ok');
      assert.deepEqual(result.stats, {
        exportedSpans: 1,
        failedExports: 0,
        lostSpans: 0,
        droppedSpans: { queue_full: 0, export_failed: 0, shutdown: 0 },
      });

      // A CommonJS application loads the ES package through require() (Node ≥ 20.19).
      writeFileSync(join(project, 'check.cjs'), CJS_CHECK);
      const cjs = JSON.parse(
        (await run(process.execPath, ['check.cjs'], project, 30_000)).trim().split('\n').pop()!,
      );
      assert.deepEqual(cjs, {
        // 2.x: supported, but its optional peer is not installed here; 3.x: no such exporter.
        line: line === 3 ? 'otel_exporter_unsupported' : 'otel_peer_missing',
        spans: 1,
        parent: parentSpanId,
      });

      const trace = await waitFor(() => jaeger.getTrace(traceId), { timeoutMs: 20_000 });
      assert.equal(trace.spans.length, 1, JSON.stringify(trace.spans));
      const span = trace.spans[0]!;
      assert.deepEqual(
        span.references.map((r) => [r.refType, r.traceID, r.spanID]),
        [['CHILD_OF', traceId, parentSpanId]],
      );
      assert.equal(trace.processes[span.processID]?.serviceName, `consumer-otel${line}`);
    });
  },
);
