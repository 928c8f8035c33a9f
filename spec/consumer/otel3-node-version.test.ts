/**
 * The OpenTelemetry JS 3.x packages on a Node older than they require (22.15): the packed package
 * unpacked into a fresh project whose `@opentelemetry/*` peers are the 3.x set of spec/otel3
 * (linked, nothing downloaded). On this Node (the default run is Node 20) `createOtelTracer` must
 * refuse with one `TracingError` (`otel_sdk_unsupported`) saying what to do — it used to build a
 * tracer on the unsupported combination, with no more than npm's easily missed EBADENGINE warning.
 * On Node ≥ 22.15 the same project records spans on the 3.x line.
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
let out;
try {
  const tracer = createOtelTracer({ exporter: 'memory' });
  tracer.startSpan('one').end();
  out = { spans: tracer.finishedSpans().length };
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
    it('Node ≥ 22.15: a tracer on the 3.x line records spans', () => {
      assert.deepEqual(result, { spans: 1 });
    });
  else
    it('Node < 22.15: createOtelTracer throws TracingError otel_sdk_unsupported naming both ways out', () => {
      assert.equal(result.name, 'TracingError');
      assert.equal(result.code, 'otel_sdk_unsupported');
      assert.match(String(result.message), /requires Node ≥ 22\.15, this is Node \d+\.\d+\.\d+/);
      assert.match(String(result.message), /@opentelemetry\/sdk-trace-base@2 with @opentelemetry\/api@1\.9/);
    });
});
