/**
 * The OpenTelemetry JS 3.x packages on a Node older than they require (22.15): the packed package
 * unpacked into a fresh project whose `@opentelemetry/*` peers are the 3.x set of spec/otel3
 * (linked, nothing downloaded). On this Node (the default run is Node 20) `createOtelTracer` must
 * say so once (process warning `HYPERION_OTEL_NODE_VERSION`, what to do) and still work — it used
 * to build a tracer on the unsupported combination with no more than npm's easily missed
 * EBADENGINE warning. On Node ≥ 22.15 the same project records spans on the 3.x line, no warning.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../harness/process.js';
import { buildAndPack, root, run } from './project.js';

const otel3 = join(root, 'spec/otel3/node_modules/@opentelemetry');
const installed = existsSync(join(otel3, 'sdk-trace'));
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 15);

const APP = `import { createOtelTracer } from 'hyperion/tracing/otel';
const warnings = [];
process.on('warning', (w) => { if (w.code === 'HYPERION_OTEL_NODE_VERSION') warnings.push(w.message); });
let out;
try {
  const tracer = createOtelTracer({ exporter: 'memory' });
  createOtelTracer({ exporter: 'memory' }).close();
  tracer.startSpan('one').end();
  await new Promise((r) => setImmediate(r));
  out = { spans: tracer.finishedSpans().length, warnings };
  await tracer.close();
} catch (e) {
  out = { name: e.name, code: e.code, message: e.message };
}
console.log(JSON.stringify(out));
`;

describe('the OpenTelemetry 3.x packages on this Node', {
  skip: installed ? false : 'npm ci --prefix spec/otel3 first',
}, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let result: Record<string, unknown>;

  before(async () => {
    dir = await tempDir('otel3-node');
    const tarball = await buildAndPack(dir.path);
    const project = join(dir.path, 'project');
    const modules = join(project, 'node_modules');
    mkdirSync(join(modules, 'hyperion'), { recursive: true });
    mkdirSync(join(modules, '@opentelemetry'), { recursive: true });
    await run(
      'tar',
      ['xzf', tarball, '-C', join(modules, 'hyperion'), '--strip-components=1'],
      project,
      60_000,
    );
    // Linked, so each resolves its own dependencies (one API 1.10 copy) in spec/otel3.
    for (const peer of ['api', 'core', 'resources', 'sdk-trace'])
      symlinkSync(join(otel3, peer), join(modules, '@opentelemetry', peer));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(project, 'app.mjs'), APP);
    const out = await run(process.execPath, ['app.mjs'], project, 60_000);
    result = JSON.parse(out.trim().split('\n').pop()!);
  });
  after(() => dir?.remove());

  if (supported)
    it('Node ≥ 22.15: a tracer on the 3.x line records spans, no warning', () => {
      assert.deepEqual(result, { spans: 1, warnings: [] });
    });
  else
    it('Node < 22.15: one HYPERION_OTEL_NODE_VERSION warning naming both ways out, the tracer works', () => {
      assert.equal(result.spans, 1);
      const warnings = result.warnings as string[];
      assert.equal(warnings.length, 1, 'once per process, not per tracer');
      assert.match(warnings[0]!, /requires Node ≥ 22\.15, this is Node \d+\.\d+\.\d+/);
      assert.match(warnings[0]!, /@opentelemetry\/sdk-trace-base@2 with @opentelemetry\/api@1\.9/);
    });
});
