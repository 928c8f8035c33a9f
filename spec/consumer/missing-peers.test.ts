/**
 * A consumer that installed only some optional peers: the packed package unpacked into a fresh
 * project whose node_modules holds only the peers `hyperion/config` needs (`yaml`, `valibot`,
 * linked from this repository's node_modules — nothing is downloaded). A config that turns on a
 * part whose peer is missing must fail with one ConfigError naming the section, the subpath and
 * the package to install — not the loader's raw ERR_MODULE_NOT_FOUND. And the Redis and
 * Prometheus subpaths import without their peer: what needs no peer works, the factories throw
 * the typed error naming the package.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../harness/process.js';
import { buildAndPack, root, run } from './project.js';

const APP = `import { createAppFromConfig, loadConfig } from 'hyperion/config';
import { ConfigError } from 'hyperion';

const out = {};
for (const name of ['redis', 'tiered', 'otlp', 'metrics', 'memory']) {
  try {
    const app = await createAppFromConfig(await loadConfig(name + '.yaml', { env: {} }));
    out[name] = { built: app.cache.name };
    await app.close();
  } catch (e) {
    out[name] = {
      name: e.name,
      code: e.code,
      configError: e instanceof ConfigError,
      issues: e.issues?.map((i) => i.path + ': ' + i.message),
      cause: e.cause?.code,
    };
  }
}
console.log(JSON.stringify(out));
`;

const DIRECT = `import { CacheError, MetricsError, TracingError } from 'hyperion';
const out = {};
const fail = (e) => ({ name: e.name, code: e.code, message: e.message, typed: e instanceof CacheError || e instanceof MetricsError });
try {
  const redis = await import('hyperion/cache/redis');
  out.acl = redis.aclRules({ keyPrefix: 'app:', mode: 'standalone' }).includes('~app:*');
  try { redis.createRedisCache({ addresses: ['127.0.0.1:1'] }); out.redis = 'built'; } catch (e) { out.redis = fail(e); }
} catch (e) { out.redisImport = e.code ?? e.message; }
try {
  const prom = await import('hyperion/metrics/prometheus');
  try { prom.createMetrics({}); out.metrics = 'built'; } catch (e) { out.metrics = fail(e); }
} catch (e) { out.metricsImport = e.code ?? e.message; }
try {
  await import('hyperion/tracing/otel');
  out.otel = 'imported';
} catch (e) {
  out.otel = { name: e.name, code: e.code, message: e.message, typed: e instanceof TracingError };
}
console.log(JSON.stringify(out));
`;

// Run with OTEL_SDK_DISABLED=true: the propagate-only setup needs no OpenTelemetry, and the
// standard switch that turns tracing off must not need it either (it failed the start with a
// ConfigError asking to install @opentelemetry/api …).
const DISABLED = `import { createAppFromConfig, loadConfigFromText } from 'hyperion/config';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
try {
  const app = await createAppFromConfig(loadConfigFromText('tracing: { exporter: none }\\n', { env: {} }));
  const parent = app.tracer.extract({ traceparent: TP }).parent;
  const passed = {};
  app.tracer.inject(passed, { span: app.tracer.startSpan('child', { parent }) });
  const fresh = {};
  app.tracer.inject(fresh, { span: app.tracer.startSpan('root') });
  // The request's baggage passes on, as through the disabled OpenTelemetry tracer (the no-op one,
  // used when OpenTelemetry is not installed, dropped it).
  const incoming = app.tracer.extract({ traceparent: TP, baggage: 'tenant=acme' });
  const onward = {};
  app.tracer.inject(onward, { span: app.tracer.startSpan('child', { parent: incoming.parent }), baggage: incoming.baggage });
  await app.close();
  console.log(JSON.stringify({ passed: passed.traceparent, fresh, baggage: incoming.baggage, onward }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
}
`;

const off = 'tracing: { exporter: none }\nmetrics: { enabled: false }\n';
const CONFIGS: Record<string, string> = {
  redis: `${off}cache: { type: redis, addresses: ["127.0.0.1:1"] }\n`,
  tiered: `${off}cache: { type: tiered, l1: { type: memory, max_cost: 1048576 }, l2: { type: redis, addresses: ["127.0.0.1:1"] } }\n`,
  otlp: 'tracing: { exporter: otlp, service_name: consumer }\nmetrics: { enabled: false }\n',
  metrics: 'tracing: { exporter: none }\nmetrics: { enabled: true }\n',
  memory: `${off}cache: { type: memory, max_cost: 1048576 }\n`,
};

describe('hyperion/config with only its own peers installed', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let result: Record<string, Record<string, unknown>>;
  let installed = '';
  let direct: Record<string, unknown>;
  let disabled: Record<string, unknown>;

  before(async () => {
    dir = await tempDir('missing-peers');
    const tarball = await buildAndPack(dir.path);
    const project = join(dir.path, 'project');
    const modules = join(project, 'node_modules');
    installed = join(modules, 'hyperion');
    mkdirSync(join(modules, 'hyperion'), { recursive: true });
    await run(
      'tar',
      ['xzf', tarball, '-C', join(modules, 'hyperion'), '--strip-components=1'],
      project,
      60_000,
    );
    for (const peer of ['yaml', 'valibot'])
      symlinkSync(join(root, 'node_modules', peer), join(modules, peer));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(project, 'app.mjs'), APP);
    writeFileSync(join(project, 'direct.mjs'), DIRECT);
    writeFileSync(join(project, 'disabled.mjs'), DISABLED);
    for (const [name, text] of Object.entries(CONFIGS)) writeFileSync(join(project, `${name}.yaml`), text);
    const out = await run(process.execPath, ['app.mjs'], project, 60_000);
    result = JSON.parse(out.trim().split('\n').pop()!);
    direct = JSON.parse(
      (await run(process.execPath, ['direct.mjs'], project, 60_000)).trim().split('\n').pop()!,
    );
    disabled = JSON.parse(
      (await run(process.execPath, ['disabled.mjs'], project, 60_000, { OTEL_SDK_DISABLED: 'true' }))
        .trim()
        .split('\n')
        .pop()!,
    );
  });
  after(() => dir?.remove());

  const missing = (section: string, subpath: string, install: string, advice = `npm install ${install}`) => ({
    name: 'ConfigError',
    code: 'config_invalid',
    configError: true,
    issues: [
      `${section}: needs ${subpath}, whose optional peer ${install.includes(' ') ? 'dependencies' : 'dependency'} ` +
        `${install.split(' ').join(', ')} ${install.includes(' ') ? 'are' : 'is'} not installed: ${advice}`,
    ],
    cause: 'ERR_MODULE_NOT_FOUND',
  });
  // One line's versions together, with its SDK: the bare package names installed the newest of
  // each, the 3.x core (Node ≥ 22.15) beside a 2.x SDK on Node 20, and no SDK.
  const OTEL_ADVICE =
    'for OpenTelemetry JS 2.x (Node ≥ 20.19) npm install @opentelemetry/api@~1.9 @opentelemetry/sdk-trace-base@~2.12 @opentelemetry/core@~2.12 @opentelemetry/resources@~2.12, ' +
    'or for 3.x (Node ≥ 22.15) npm install @opentelemetry/api@~1.10 @opentelemetry/sdk-trace@~3.1 (which brings core and resources)';

  it('a Redis cache without iovalkey names iovalkey and hyperion/cache/redis', () => {
    assert.deepEqual(result.redis, missing('cache', 'hyperion/cache/redis', 'iovalkey'));
  });
  it("a tiered cache's Redis L2 without iovalkey names cache.l2", () => {
    assert.deepEqual(result.tiered, missing('cache.l2', 'hyperion/cache/redis', 'iovalkey'));
  });
  it('an OTLP tracer without OpenTelemetry names every package hyperion/tracing/otel loads', () => {
    assert.deepEqual(
      result.otlp,
      missing(
        'tracing',
        'hyperion/tracing/otel',
        '@opentelemetry/api @opentelemetry/core @opentelemetry/resources',
        OTEL_ADVICE,
      ),
    );
  });
  it('metrics without prom-client names prom-client', () => {
    assert.deepEqual(result.metrics, missing('metrics', 'hyperion/metrics/prometheus', 'prom-client'));
  });
  it('tracing: { exporter: none } with OTEL_SDK_DISABLED=true builds without OpenTelemetry: a pass-through, baggage too', () => {
    assert.deepEqual(disabled, {
      passed: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      fresh: {},
      baggage: { tenant: 'acme' },
      onward: {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        baggage: 'tenant=acme',
      },
    });
  });

  it('a part whose peers are there (memory cache) still builds', () => {
    assert.deepEqual(result.memory, { built: 'memory' });
  });
  it('hyperion/cache/redis and hyperion/metrics/prometheus import without their peer: aclRules works, the factories throw CacheError / MetricsError peer_missing naming the package', () => {
    assert.deepEqual(direct, {
      acl: true,
      redis: {
        name: 'CacheError',
        code: 'peer_missing',
        message:
          'hyperion/cache/redis needs the optional peer dependency iovalkey, which is not installed: npm install iovalkey',
        typed: true,
      },
      metrics: {
        name: 'MetricsError',
        code: 'peer_missing',
        message:
          'hyperion/metrics/prometheus needs the optional peer dependency prom-client, which is not installed: npm install prom-client',
        typed: true,
      },
      otel: direct.otel,
    });
  });
  it("importing hyperion/tracing/otel without OpenTelemetry is one TracingError otel_peer_missing naming every package to install, not the loader's ERR_MODULE_NOT_FOUND", () => {
    assert.deepEqual(direct.otel, {
      name: 'TracingError',
      code: 'otel_peer_missing',
      message:
        'hyperion/tracing/otel needs the optional peer dependencies @opentelemetry/api, @opentelemetry/core, @opentelemetry/resources, ' +
        `which are not installed: ${OTEL_ADVICE}`,
      typed: true,
    });
  });
  it('the source maps it ships carry their sources (the .ts files are not in the package)', () => {
    const maps = (readdirSync(join(installed, 'dist'), { recursive: true }) as string[]).filter((f) =>
      f.endsWith('.js.map'),
    );
    assert.ok(maps.length > 50, `${maps.length} source maps`);
    const without = maps.filter((f) => {
      const map = JSON.parse(readFileSync(join(installed, 'dist', f), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      return map.sources.some((_, i) => typeof map.sourcesContent?.[i] !== 'string');
    });
    assert.deepEqual(without, [], 'maps pointing at lib/*.ts, which is not shipped');
  });
  it("TypeScript's legacy node10 resolution (CommonJS projects) finds the types of every subpath", async () => {
    const dir = join(installed, '..', '..', 'node10');
    mkdirSync(dir, { recursive: true });
    const subpaths = Object.keys(
      (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: object }).exports,
    )
      .filter((k) => k !== './package.json') // the manifest, not code
      .map((k) => `hyperion${k.slice(1)}`);
    writeFileSync(
      join(dir, 'index.ts'),
      [
        ...subpaths.map((s, i) => `import * as m${i} from '${s}';`),
        `import { createMemoryCache } from 'hyperion/cache/memory';`,
        `import type { Cache } from 'hyperion';`,
        `export const cache: Cache = createMemoryCache({ maxCost: 1024 });`,
        `export const all = [${subpaths.map((_, i) => `m${i}`).join(', ')}];`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'commonjs',
          moduleResolution: 'node10',
          target: 'ES2022',
          strict: true,
          // The peers' own types are not installed here; what is checked is that each subpath resolves.
          skipLibCheck: true,
          noEmit: true,
          types: [],
          typeRoots: [],
        },
        files: ['index.ts'],
      }),
    );
    symlinkSync(join(installed, '..'), join(dir, 'node_modules'));
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], dir, 120_000);
  });
  it('a TypeScript CommonJS project with module nodenext (the README says so) compiles its imports to require() and runs', async () => {
    const dir = join(installed, '..', '..', 'cjs-nodenext');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'commonjs', private: true }));
    writeFileSync(
      join(dir, 'index.ts'),
      [
        `import { createApp, jsonCache } from 'hyperion';`,
        `import { createMemoryCache } from 'hyperion/cache/memory';`,
        `const app = createApp({ cache: createMemoryCache({ maxCost: 1024 }) });`,
        `const users = jsonCache<{ name: string }>(app.cache);`,
        `users.set('u1', { name: 'ada' }).then(() => users.get('u1')).then(async (u) => {`,
        `  await app.close();`,
        `  console.log(JSON.stringify({ name: u?.name }));`,
        `});`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'ES2022',
          strict: true,
          skipLibCheck: true,
          types: [],
          typeRoots: [],
          outDir: 'out',
        },
        files: ['index.ts'],
      }),
    );
    symlinkSync(join(installed, '..'), join(dir, 'node_modules'));
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], dir, 120_000);
    assert.match(readFileSync(join(dir, 'out/index.js'), 'utf8'), /require\("hyperion"\)/);
    const out = await run(process.execPath, ['out/index.js'], dir, 60_000);
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { name: 'ada' });
  });
});
