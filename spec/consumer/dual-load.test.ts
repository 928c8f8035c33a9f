/**
 * No dual-package hazard: an application that imports `hyperion` (ESM) while a library it uses
 * requires it (CommonJS, Node ≥ 20.19) gets one copy of the package. The package is ESM only and
 * require() of an ES module returns the module the loader already holds, so both sides share
 * every class (`err instanceof CacheError` holds for an error thrown through the other side) and
 * every piece of module state (the OpenTelemetry globals a tracer claims, the runtime metrics the
 * Prometheus adapters share, the signal listener of closeOnSignals). A CommonJS build beside the
 * ESM one would break all of that; this pins it. The packed package in a fresh project, its peers
 * linked from this repository (nothing is downloaded; the 3.x line's from spec/otel3 when the run
 * uses it); on the Node that runs the suite (CI runs it on Node 20 and on Node 24).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../harness/process.js';
import { buildAndPack, root, run } from './project.js';

/** A CommonJS library in the consumer's node_modules: requires every subpath, fails through it. */
const LIBRARY = `'use strict';
const subpaths = JSON.parse(process.env.SUBPATHS);
const modules = Object.fromEntries(subpaths.map((s) => [s, require(s)]));
const { createMemoryCache } = require('hyperion/cache/memory');
const { createApp } = require('hyperion');
const api = require('@opentelemetry/api');
module.exports = {
  modules,
  async cacheError() {
    try {
      await createMemoryCache({ maxCost: 1000 }).get('');
    } catch (e) {
      return e;
    }
  },
  configError() {
    try {
      createApp({ cahce: {} });
    } catch (e) {
      return e;
    }
  },
  activeSpanId() {
    return api.trace.getActiveSpan()?.spanContext().spanId;
  },
};
`;

/** The application: ESM, imports what the library requires, and compares. */
const APP = `import lib from 'cjs-lib';
const subpaths = JSON.parse(process.env.SUBPATHS);
const out = { differ: {} };
for (const s of subpaths) {
  const esm = await import(s);
  const cjs = lib.modules[s];
  out.differ[s] = Object.keys(esm).filter((k) => esm[k] !== cjs[k]);
  if (Object.keys(esm).length === 0) out.differ[s].push('(no exports)');
}
const core = await import('hyperion');
const { createOtelTracer } = await import('hyperion/tracing/otel');
const cacheError = await lib.cacheError();
out.cacheError = [cacheError?.code, cacheError instanceof core.CacheError, cacheError instanceof core.HyperionError];
const configError = lib.configError();
out.configError = [configError?.code, configError instanceof core.ConfigError];
// Module state: the listener closeOnSignals installs is the one both sides see.
const before = process.listenerCount('SIGUSR2');
const apps = [core.createApp(), core.createApp()];
core.closeOnSignals(apps[1], { signals: ['SIGUSR2'], exit: false });
const { closeOnSignals: requiredWire } = lib.modules.hyperion;
requiredWire(apps[0], { signals: ['SIGUSR2'], exit: false });
out.sigusr2Listeners = process.listenerCount('SIGUSR2') - before;
// A tracer built through import, in active-context mode: the library's own require() of the
// OpenTelemetry API sees its span.
const tracer = createOtelTracer({ serviceName: 'dual', exporter: 'memory', activeContext: true });
const app = core.createApp({ tracer });
await core.withSpan(app.ctx, 'outer', async (_ctx, span) => {
  out.activeSpan = await tracer.activate(span, async () => lib.activeSpanId() === span.spanContext().spanId);
});
await Promise.all([...apps, app].map((a) => a.close()));
out.listenersLeft = process.listenerCount('SIGUSR2') - before;
console.log(JSON.stringify(out));
`;

const line: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;

describe(`the packed package loaded by import and by require() in one process (OpenTelemetry ${line}.x, Node ${process.version})`, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let project: string;
  let subpaths: string[];

  before(async () => {
    dir = await tempDir('consumer-dual');
    const tarball = await buildAndPack(dir.path);
    project = join(dir.path, 'project');
    const installed = join(project, 'node_modules/hyperion');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1'], project, 60_000);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      peerDependencies: Record<string, string>;
    };
    subpaths = Object.keys(manifest.exports)
      .filter((k) => k !== './package.json')
      .map((k) => `hyperion${k.slice(1)}`);
    for (const name of Object.keys(manifest.peerDependencies)) {
      // On the 3.x line, its OpenTelemetry packages (whose API is a dual CommonJS/ESM package:
      // the library's require() and our import get two copies of it, sharing one global registry).
      const from =
        line === 3 && name.startsWith('@opentelemetry/')
          ? join(root, 'spec/otel3/node_modules', name)
          : join(root, 'node_modules', name);
      if (!existsSync(from)) continue; // not part of the 3.x set (sdk-trace-base, exporter-jaeger…)
      const link = join(project, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(from, link);
    }
    const library = join(project, 'node_modules/cjs-lib');
    mkdirSync(library, { recursive: true });
    writeFileSync(join(library, 'package.json'), JSON.stringify({ name: 'cjs-lib', main: 'index.js' }));
    writeFileSync(join(library, 'index.js'), LIBRARY);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(project, 'app.js'), APP);
  });
  after(() => dir?.remove());

  it('one copy: the same exports, errors that are instances of the importer’s classes, shared module state', {
    timeout: 60_000,
  }, async () => {
    const out = JSON.parse(
      (await run(process.execPath, ['app.js'], project, 50_000, { SUBPATHS: JSON.stringify(subpaths) }))
        .trim()
        .split('\n')
        .pop()!,
    );
    assert.deepEqual(
      out.differ,
      Object.fromEntries(subpaths.map((s) => [s, []])),
      'exports that differ between import and require()',
    );
    assert.deepEqual(out.cacheError, ['invalid_key', true, true]);
    assert.deepEqual(out.configError, ['config_invalid', true]);
    assert.equal(out.sigusr2Listeners, 1, 'one closeOnSignals listener for both sides');
    assert.equal(out.activeSpan, true, 'the library sees the active span of a tracer built by import');
    assert.equal(out.listenersLeft, 0);
  });
});
