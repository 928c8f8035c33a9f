/**
 * The packed package bundled into a service with esbuild (`--bundle --platform=node`, the optional
 * peers external and installed beside the bundle, as lib/PRODUCTION.md says), in both output
 * formats: createApp with the memory cache, the Prometheus metrics and an OpenTelemetry tracer, and
 * createAppFromConfig with a `tracing:` section, run from another directory with no home
 * directory, `NODE_ENV=production` and `--disallow-code-generation-from-strings`. Then a bundle
 * under Node's permission model that may not read `node_modules`.
 * What these caught: a CommonJS bundle turns `import.meta` into an empty object, and it crashed
 * while loading (`createRequire(undefined)`: ERR_INVALID_ARG_VALUE), every peer looking missing to
 * the adapters that resolved them with `import.meta.resolve`; bundled spans lost their
 * instrumentation scope version, read from package.json beside the code; an unreadable peer was
 * reported as "not installed". One esbuild run is well under a second; the tarball is the cached
 * one of the other consumer tests.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../harness/process.js';
import { buildAndPack, root, run } from './project.js';

/** No top-level await: the CommonJS output format has none. */
const APP = `import { createApp, withSpan } from 'hyperion';
import { createMemoryCache } from 'hyperion/cache/memory';
import { createAppFromConfig } from 'hyperion/config';
import { createMetrics } from 'hyperion/metrics/prometheus';
import { createOtelTracer } from 'hyperion/tracing/otel';

async function main() {
  const metrics = createMetrics({ defaultLabels: { service: 'bundled' } });
  const tracer = createOtelTracer({ serviceName: 'bundled', exporter: 'memory' });
  const app = createApp({ tracer, metrics, cache: createMemoryCache({ maxCost: 1_000_000 }) });
  await withSpan(app.ctx, 'outer', async () => {
    await app.cache.set('k', new Uint8Array([1, 2]));
  });
  const got = await app.cache.get('k');
  const exposition = (await metrics.render()).body;
  const spans = tracer.finishedSpans().map((s) => [s.name, s.instrumentationScope.name, s.instrumentationScope.version]);
  await app.close();
  const fromConfig = await createAppFromConfig({
    service: { name: 'bundled' },
    tracing: { exporter: 'memory' },
    cache: { type: 'memory', max_cost: 1_000_000 },
  });
  await withSpan(fromConfig.ctx, 'configured', async () => {});
  const configSpans = fromConfig.tracer.finishedSpans().map((s) => s.name);
  await fromConfig.close();
  console.log(JSON.stringify({ got: got && [...got], metrics: exposition.includes('service="bundled"'), spans, configSpans }));
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`;

/** Each adapter's error when Node's permission model does not let it read its peer. */
const DENIED = `import { createAppFromConfig } from 'hyperion/config';
import { createMetrics } from 'hyperion/metrics/prometheus';

const message = (e) => e.issues?.[0]?.message ?? e.message;
const out = {};
try {
  createMetrics();
} catch (e) {
  out.metrics = message(e);
}
createAppFromConfig({ service: { name: 'denied' }, tracing: { exporter: 'memory' } })
  .then(() => 'built', message)
  .then((config) => {
    out.config = config;
    return import('hyperion/tracing/otel').then(() => 'imported', message);
  })
  .then((tracing) => {
    out.tracing = tracing;
    console.log(JSON.stringify(out));
  });
`;

const line: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;

describe(`the packed package bundled by esbuild, optional peers external (OpenTelemetry ${line}.x, Node ${process.version})`, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let project: string;
  let peers: string[];
  let version: string;

  before(async () => {
    dir = await tempDir('consumer-bundle');
    const tarball = await buildAndPack(dir.path);
    project = join(dir.path, 'project');
    const installed = join(project, 'node_modules/hyperion');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1'], project, 60_000);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
      version: string;
    };
    version = manifest.version;
    peers = Object.keys(manifest.peerDependencies);
    for (const name of peers) {
      // Linked from this repository, as in dual-load.test.ts: nothing is downloaded.
      const from =
        line === 3 && name.startsWith('@opentelemetry/')
          ? join(root, 'spec/otel3/node_modules', name)
          : join(root, 'node_modules', name);
      if (!existsSync(from)) continue;
      const link = join(project, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(from, link);
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(project, 'app.js'), APP);
    writeFileSync(join(project, 'denied.js'), DENIED);
  });
  after(() => dir?.remove());

  /** Bundles `entry` of the project into `outfile` (peers external); resolves esbuild's output. */
  const bundle = (entry: string, format: 'esm' | 'cjs', outfile: string, external = peers) =>
    run(
      join(root, 'node_modules/.bin/esbuild'),
      [
        entry,
        '--bundle',
        '--platform=node',
        `--format=${format}`,
        '--log-level=warning',
        ...external.map((name) => `--external:${name}`),
        `--outfile=${outfile}`,
      ],
      project,
      30_000,
    );

  for (const format of ['esm', 'cjs'] as const)
    it(`--format=${format}: builds without a warning and runs`, { timeout: 60_000 }, async () => {
      const outfile = join(project, 'dist', format === 'esm' ? 'app.mjs' : 'app.cjs');
      assert.equal((await bundle('app.js', format, outfile)).trim(), '', 'esbuild warnings');
      // Run from elsewhere (nothing may depend on the working directory), with no home directory
      // and no code generation from strings (no eval or new Function in the package or its peers).
      const out = await run(
        process.execPath,
        ['--disallow-code-generation-from-strings', outfile],
        dir.path,
        30_000,
        {
          HOME: join(dir.path, 'no-home'),
          NODE_ENV: 'production',
        },
      );
      assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), {
        got: [1, 2],
        metrics: true,
        // The scope's version is the package's also in a bundle (it was read from package.json).
        spans: [['outer', 'hyperion', version]],
        configSpans: ['configured'],
      });
    });

  it('under the permission model without read access to node_modules, the errors say so (not "not installed")', {
    timeout: 60_000,
  }, async () => {
    const outfile = join(project, 'denied', 'denied.cjs');
    // valibot and yaml bundled in: hyperion/config imports them statically, so an unreadable one
    // stops the bundle in Node's loader before any of our code runs. (CommonJS output: yaml's Node
    // build require()s built-ins, which an ES-module bundle cannot do without a banner.)
    await bundle(
      'denied.js',
      'cjs',
      outfile,
      peers.filter((name) => name !== 'valibot' && name !== 'yaml'),
    );
    // Node 20 has the model as --experimental-permission; 22.13 and later as --permission.
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const flag = major > 22 || (major === 22 && minor >= 13) ? '--permission' : '--experimental-permission';
    const out = await run(
      process.execPath,
      [flag, `--allow-fs-read=${dirname(outfile)}/`, outfile],
      dir.path,
      30_000,
    );
    const messages = JSON.parse(out.trim().split('\n').pop()!) as Record<string, string>;
    assert.deepEqual(Object.keys(messages), ['metrics', 'config', 'tracing']);
    for (const [part, message] of Object.entries(messages)) {
      assert.match(
        message,
        /cannot read the optional peer dependency .*permission model.*--allow-fs-read/,
        part,
      );
      assert.doesNotMatch(message, /not installed/, part);
    }
  });
});
