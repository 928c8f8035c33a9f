/**
 * The packed package as a user installs it, with every optional peer present: the tarball unpacked
 * into a fresh project's node_modules, the peers (and `@types/node`) linked from this repository's
 * node_modules — nothing is downloaded.
 * - What the tarball holds: the built code and its declarations for every `exports` and
 *   `typesVersions` entry, README, LICENSE and the pages beside the code — no sources, tests,
 *   benchmark or demo code, keys or npm settings.
 * - Every TypeScript example of the pages (the blocks and preludes of spec/docs/examples.ts, which
 *   checks them against lib/) typechecks against the installed declarations, `skipLibCheck: false`,
 *   with each resolution a user may have: `nodenext`, `node16` and `bundler`, and the strictest
 *   flags (`exactOptionalPropertyTypes`, `noUncheckedIndexedAccess`).
 * - The declarations need no lib newer than `@types/node` does: a project targeting ES2020 compiles them.
 * - Every optional property of the declarations admits `undefined`, as the runtime does, so a user
 *   with `exactOptionalPropertyTypes` can pass `{ password: process.env.X }` or spread options.
 * - Every subpath loads with `import` and with `require()` (Node ≥ 20.19) and gives the same
 *   exports; the files behind them are not importable (no deep import is needed or possible).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { examples } from '../docs/examples.js';
import { tempDir } from '../harness/process.js';
import { buildAndPack, root, run } from './project.js';

interface Manifest {
  exports: Record<string, { types: string; default: string } | string>;
  typesVersions: Record<string, Record<string, string[]>>;
  peerDependencies: Record<string, string>;
}

describe('the packed package with every optional peer installed', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let project: string;
  let installed: string;
  let entries: string[];
  let manifest: Manifest;
  /** The code subpaths (`hyperion`, `hyperion/tracing`, …): every export but `./package.json`. */
  const codeSubpaths = () =>
    Object.keys(manifest.exports)
      .filter((k) => k !== './package.json')
      .map((k) => `hyperion${k.slice(1)}`);

  before(async () => {
    dir = await tempDir('consumer-packed');
    const tarball = await buildAndPack(dir.path);
    entries = (await run('tar', ['tzf', tarball], dir.path, 60_000)).trim().split('\n');
    project = join(dir.path, 'project');
    installed = join(project, 'node_modules/hyperion');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1'], project, 60_000);
    manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    for (const name of [...Object.keys(manifest.peerDependencies), '@types/node']) {
      const link = join(project, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(join(root, 'node_modules', name), link);
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  });
  after(() => dir?.remove());

  it('holds the code, declarations, README, LICENSE and pages, and nothing else', () => {
    const files = entries.map((e) => e.replace(/^package\//, ''));
    assert.ok(
      entries.every((e) => e.startsWith('package/')),
      'every entry under package/',
    );
    for (const file of ['package.json', 'README.md', 'LICENSE']) assert.ok(files.includes(file), file);
    const unexpected = files.filter(
      (f) =>
        !['package.json', 'README.md', 'LICENSE', 'benchmarks/README.md', 'demo/README.md'].includes(f) &&
        !/^dist\/.+\.(js|js\.map|d\.ts)$/.test(f) &&
        !/^lib\/.+\.md$/.test(f) &&
        !/^benchmarks\/figures\/[^/]+\.svg$/.test(f),
    );
    assert.deepEqual(unexpected, [], 'files outside the published set');
    const sources = files.filter(
      (f) =>
        f !== 'demo/README.md' && // the demo's guide, which README.md links to; none of its code
        ((/\.(ts|mts|cts|mjs|cjs)$/.test(f) && !f.endsWith('.d.ts')) ||
          /(^|\/)(spec|demo|\.ci)\//.test(f) ||
          /\.(test|bench)\./.test(f) ||
          /\.(pem|key|crt|p12|env)$|(^|\/)\.npmrc$/.test(f)),
    );
    assert.deepEqual(sources, [], 'sources, tests, benchmarks, demo or secrets in the package');
    // Every path package.json points at is in the tarball.
    const pointed = [
      ...Object.values(manifest.exports).flatMap((e) => (typeof e === 'string' ? [e] : [e.types, e.default])),
      ...Object.values(manifest.typesVersions).flatMap((map) => Object.values(map).flat()),
    ].map((p) => p.replace(/^\.\//, ''));
    assert.deepEqual(
      pointed.filter((p) => !files.includes(p)),
      [],
      'exports / typesVersions targets missing from the tarball',
    );
    // Every subpath the README's install table names is exported, and the other way round.
    const table = [
      ...readFileSync(join(installed, 'README.md'), 'utf8').matchAll(/^\| `(hyperion[^`]*)` \|/gm),
    ].map((m) => m[1]);
    assert.deepEqual(table.sort(), codeSubpaths().sort());
  });

  // README.md linked to demo/README.md, which was not shipped: a broken link on the registry's
  // page and in node_modules. Every relative link of every shipped page must reach a shipped file.
  it('every relative link of the shipped pages points at a file in the tarball', () => {
    const files = new Set(entries.map((e) => e.replace(/^package\//, '')));
    const broken: string[] = [];
    for (const page of [...files].filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(join(installed, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:|^#/i.test(target!)) continue; // a URL or an anchor of the page
        const path = posix.normalize(posix.join(posix.dirname(page), target!.split('#')[0]!));
        if (!files.has(path)) broken.push(`${page} -> ${target}`);
      }
    }
    assert.deepEqual(broken, [], 'links to files the package does not ship');
  });

  for (const [module, moduleResolution] of [
    ['NodeNext', 'NodeNext'],
    ['Node16', 'Node16'],
    ['ESNext', 'Bundler'],
  ] as const) {
    it(`every TypeScript example of the pages typechecks against the installed declarations (moduleResolution ${moduleResolution}, skipLibCheck false, exactOptionalPropertyTypes, noUncheckedIndexedAccess)`, {
      timeout: 180_000,
    }, async () => {
      const out = join(project, `docs-${moduleResolution.toLowerCase()}`);
      mkdirSync(out, { recursive: true });
      const files: string[] = [];
      for (const { name, text } of examples((page) => readFileSync(join(installed, page), 'utf8'))) {
        writeFileSync(join(out, name), text);
        files.push(name);
      }
      writeFileSync(
        join(out, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
            module,
            moduleResolution,
            strict: true,
            // The strictest flags a user may add: the pages' `password: process.env.REDIS_PASSWORD`
            // failed under exactOptionalPropertyTypes while the options took no `undefined`.
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
          },
          files,
        }),
      );
      await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', out], out, 170_000);
    });
  }

  it('the types of public options and results are importable from their subpath (no deep import to name them)', {
    timeout: 120_000,
  }, async () => {
    // Each was reachable only through a deep import, which `exports` refuses: a user keeping TLS
    // settings in a helper (`function collectorTls(): ExportTlsOptions`) could not name its type.
    const out = join(project, 'names');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'names.ts'),
      [
        `import { semconvOptIn, type SemconvOptIn } from 'hyperion/tracing';`,
        `import type { ExportTlsOptions, OtelTracerOptions } from 'hyperion/tracing/otel';`,
        `import type { EndpointAuth, EndpointTls, MetricsOptions } from 'hyperion/metrics/prometheus';`,
        `export const optIn: SemconvOptIn = semconvOptIn({});`,
        `export const collectorTls: ExportTlsOptions = { ca: 'PEM', rejectUnauthorized: true };`,
        `export const tracer: OtelTracerOptions = { exporter: 'otlp', tls: collectorTls };`,
        `export const auth: EndpointAuth = { bearerToken: 'token' };`,
        `export const serverTls: EndpointTls = { cert: 'PEM', key: 'PEM' };`,
        `export const metrics: MetricsOptions = { auth, tls: serverTls };`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['names.ts'],
      }),
    );
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', out], out, 110_000);
  });

  // `CloseError extends AggregateError` (ES2021) in errors.d.ts: a project whose target (so its
  // default lib) is ES2020 or older — what @types/node itself asks for — got TS2304 "Cannot find
  // name 'AggregateError'" inside our declarations with skipLibCheck false.
  it('the declarations of every subpath compile in a project targeting ES2020 (its default lib), skipLibCheck false', {
    timeout: 120_000,
  }, async () => {
    const out = join(project, 'es2020');
    mkdirSync(out, { recursive: true });
    const subpaths = codeSubpaths();
    writeFileSync(
      join(out, 'index.ts'),
      [
        ...subpaths.map((s, i) => `import * as m${i} from '${s}';`),
        `import { CloseError } from 'hyperion';`,
        `export const all = [${subpaths.map((_, i) => `m${i}`).join(', ')}];`,
        `export const failed = (e: unknown): number => (e instanceof CloseError ? e.errors.length : 0);`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2020',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', out], out, 110_000);
  });

  // The runtime takes an optional option given as `undefined` (`{ password: process.env.X }`, an
  // option spread from the user's own `{ ttl?: number | undefined }`), but the declarations said
  // `password?: string`: under exactOptionalPropertyTypes that is TS2379/TS2375 in the user's code.
  it('every optional property of the shipped declarations admits undefined (exactOptionalPropertyTypes)', () => {
    const strict: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.d.ts')) {
          const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
          const visit = (node: ts.Node): void => {
            if (
              ts.isPropertySignature(node) &&
              node.questionToken &&
              node.type &&
              !admitsUndefined(node.type)
            ) {
              const { line } = file.getLineAndCharacterOfPosition(node.getStart());
              strict.push(`${relative(installed, path)}:${line + 1} ${node.getText().split('\n')[0]}`);
            }
            ts.forEachChild(node, visit);
          };
          visit(file);
        }
      }
    };
    const admitsUndefined = (type: ts.TypeNode): boolean =>
      [ts.SyntaxKind.UndefinedKeyword, ts.SyntaxKind.UnknownKeyword, ts.SyntaxKind.AnyKeyword].includes(
        type.kind,
      ) ||
      (ts.isUnionTypeNode(type) && type.types.some(admitsUndefined));
    walk(join(installed, 'dist'));
    assert.deepEqual(strict, [], 'optional properties that refuse undefined');
  });

  it('optional options given as undefined or spread typecheck under exactOptionalPropertyTypes', {
    timeout: 120_000,
  }, async () => {
    const out = join(project, 'exact-optional');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'options.ts'),
      [
        `import { createServer } from 'node:http';`,
        `import { createApp, createConsoleLogger, drainServer, jsonCache, withSpan, TracingError, type Tracer } from 'hyperion';`,
        `import { createMemoryCache } from 'hyperion/cache/memory';`,
        `import { createRedisCache } from 'hyperion/cache/redis';`,
        `import { createTieredCache } from 'hyperion/cache/tiered';`,
        `import { createMetrics } from 'hyperion/metrics/prometheus';`,
        `import { createOtelTracer } from 'hyperion/tracing/otel';`,
        `import { createPropagateOnlyTracer, traceHandler } from 'hyperion/tracing';`,
        `import { loadConfigFromText } from 'hyperion/config';`,
        'interface Settings { ttl?: number | undefined; timeout?: number | undefined }',
        'declare const settings: Settings;',
        'declare const maybeTracer: Tracer | undefined;',
        'const env = process.env;',
        'const l1 = createMemoryCache({ maxCost: 1024, defaultTtl: settings.ttl });',
        `const l2 = createRedisCache({ addresses: ['127.0.0.1:6379'], password: env.REDIS_PASSWORD, tls: env.CA ? { ca: env.CA } : undefined });`,
        'const cache = createTieredCache({ l1, l2, ...settings, breaker: { failures: undefined, cooldown: 1000 } });',
        `await cache.set('k', new Uint8Array(1), settings.ttl, { timeout: settings.timeout, ifAbsent: undefined });`,
        `const tracer = maybeTracer ?? createOtelTracer({ exporter: 'otlp', endpoint: env.OTEL_ENDPOINT, batch: { maxQueueSize: undefined } });`,
        'const metrics = createMetrics({ port: undefined, auth: env.TOKEN ? { bearerToken: env.TOKEN } : undefined });',
        'const app = createApp({ tracer, cache, metrics, logger: createConsoleLogger({ level: undefined }) });',
        `metrics.counter({ name: 'jobs_total', help: 'Jobs.', labelNames: undefined });`,
        `withSpan(app.ctx, 'op', () => 1, { attributes: undefined });`,
        'traceHandler(app.ctx, () => {}, { route: undefined });',
        'createPropagateOnlyTracer({ sampleRate: settings.ttl });',
        'drainServer(createServer(), { graceMs: settings.timeout });',
        'jsonCache<{ a: number }>(app.cache, { schema: undefined });',
        `loadConfigFromText('', { env, source: undefined });`,
        `export const error = new TracingError('flush_failed', 'x', { causes: undefined });`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['options.ts'],
      }),
    );
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', out], out, 110_000);
  });

  // The pages say createApp and createAppFromConfig take `console` and a pino instance as they
  // are (and adaptLogger a pino instance), and the code does; the declarations said `Logger`
  // (`child` required): TS2741 for console, TS2322 for pino.
  it('createApp, createAppFromConfig and adaptLogger take console and a pino instance in TypeScript', {
    timeout: 120_000,
  }, async () => {
    const out = join(project, 'loggers');
    mkdirSync(out, { recursive: true });
    const pino = join(project, 'node_modules/pino');
    if (!existsSync(pino)) symlinkSync(join(root, 'node_modules/pino'), pino);
    writeFileSync(
      join(out, 'loggers.ts'),
      [
        `import { adaptLogger, createApp, type Logger } from 'hyperion';`,
        `import { createAppFromConfig, loadConfigFromText } from 'hyperion/config';`,
        `import { createOtelTracer } from 'hyperion/tracing/otel';`,
        `import { pino } from 'pino';`,
        'const log = pino();',
        'export const withConsole = createApp({ logger: console });',
        'export const withPino = createApp({ logger: log });',
        'export const inline = createApp({ logger: pino() });',
        'export const child: Logger = withConsole.logger.child({ request: 1 });',
        `export const tracer = createOtelTracer({ exporter: 'memory', logger: adaptLogger(log) });`,
        `const config = loadConfigFromText('{}', { env: {} });`,
        'export const fromConfig = [createAppFromConfig(config, { logger: log }), createAppFromConfig(config, { logger: console })];',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['loggers.ts'],
      }),
    );
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', out], out, 110_000);
  });

  it('a library exporting what the factories and config helpers return emits its declarations (no TS2742)', {
    timeout: 120_000,
  }, async () => {
    // With `declaration: true` TypeScript must name every exported value's type through a public
    // subpath; tracingOptionsFromConfig, metricsOptionsFromConfig and redisOptionsFromConfig
    // returned types that only internal files declared: "The inferred type of … cannot be named
    // without a reference to …/dist/config/sections/tracing.js" (TS2742).
    const out = join(project, 'library');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'index.ts'),
      [
        `import { createApp, createConsoleLogger, jsonCache } from 'hyperion';`,
        `import { createPropagateOnlyTracer, semconvOptIn } from 'hyperion/tracing';`,
        `import { createOtelTracer } from 'hyperion/tracing/otel';`,
        `import { createMemoryCache, createSyncMemoryCache } from 'hyperion/cache/memory';`,
        `import { createRedisCache, createRedisInvalidationBus, createRedisLease } from 'hyperion/cache/redis';`,
        `import { createTieredCache } from 'hyperion/cache/tiered';`,
        `import { createMetrics } from 'hyperion/metrics/prometheus';`,
        `import * as config from 'hyperion/config';`,
        `const file = config.loadConfigFromText('cache: { type: redis }\\n', { env: {} });`,
        `export const tracing = config.tracingOptionsFromConfig(file.tracing!);`,
        `export const metricsOptions = config.metricsOptionsFromConfig(file.metrics!);`,
        `export const redisOptions = file.cache?.type === 'redis' ? config.redisOptionsFromConfig(file.cache) : undefined;`,
        `export const tracer = createOtelTracer({ exporter: 'memory' });`,
        `export const propagateOnly = createPropagateOnlyTracer();`,
        `export const l1 = createMemoryCache({ maxCost: 1024 });`,
        `export const counts = createSyncMemoryCache<number>({ maxCost: 10 });`,
        `export const l2 = createRedisCache({ addresses: ['127.0.0.1:1'] });`,
        `export const bus = createRedisInvalidationBus({ client: l2.client });`,
        `export const lease = createRedisLease({ client: l2.client });`,
        `export const cache = createTieredCache({ l1, l2, bus, lease });`,
        `export const metrics = createMetrics({});`,
        `export const app = createApp({ tracer, cache, metrics, logger: createConsoleLogger() });`,
        `export const users = jsonCache<{ name: string }>(app.cache);`,
        `export const optIn = semconvOptIn({});`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          declaration: true,
          emitDeclarationOnly: true,
          outDir: 'types',
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', out], out, 110_000);
    const emitted = readFileSync(join(out, 'types/index.d.ts'), 'utf8');
    assert.doesNotMatch(emitted, /hyperion\/dist\//, 'declarations reaching into dist/');
  });

  // A module importing one subpath only: TypeScript names a type of its results only through a
  // module of the program. `metrics.counter()` (a core Counter), `createRedisLease()` (a core
  // LoaderLease), `createAppFromConfig()` (App), `memoryOptionsFromConfig()` or a config's tracing
  // section (ExporterName) failed with TS2742 naming a file under dist/ unless the module happened
  // to import `hyperion` (or the other subpath) as well.
  it('a library module importing only one subpath emits declarations for what it exports (no TS2742)', {
    timeout: 170_000,
  }, async () => {
    const modules: Record<string, string[]> = {
      metrics: [
        `import { createMetrics } from 'hyperion/metrics/prometheus';`,
        'export const metrics = createMetrics({});',
        `export const requests = metrics.counter({ name: 'requests_total', help: 'Requests.', labelNames: ['route'] });`,
        `export const duration = metrics.histogram({ name: 'duration_seconds', help: 'Duration.' });`,
      ],
      otel: [
        `import { createOtelTracer } from 'hyperion/tracing/otel';`,
        `export const tracer = createOtelTracer({ exporter: 'memory' });`,
        'export const stats = tracer.exportStats();',
      ],
      redis: [
        `import { createRedisCache, createRedisInvalidationBus, createRedisLease, createRedisTracking } from 'hyperion/cache/redis';`,
        `export const cache = createRedisCache({ addresses: ['127.0.0.1:1'] });`,
        'export const bus = createRedisInvalidationBus({ client: cache.client });',
        'export const lease = createRedisLease({ client: cache.client });',
        'export const tracking = createRedisTracking({ client: cache.client });',
      ],
      config: [
        `import { createAppFromConfig, loadConfigFromText, memoryOptionsFromConfig, redisOptionsFromConfig, tieredOptionsFromConfig } from 'hyperion/config';`,
        `const file = loadConfigFromText('tracing: { exporter: otlp }\\n', { env: {} });`,
        'export const sections = { tracing: file.tracing, metrics: file.metrics, cache: file.cache };',
        'export const app = createAppFromConfig(file);',
        `export const memory = file.cache?.type === 'memory' ? memoryOptionsFromConfig(file.cache) : undefined;`,
        `export const redis = file.cache?.type === 'redis' ? redisOptionsFromConfig(file.cache) : undefined;`,
        `export const tiered = file.cache?.type === 'tiered' ? tieredOptionsFromConfig(file.cache) : undefined;`,
      ],
    };
    const dirs: string[] = [];
    for (const [name, lines] of Object.entries(modules)) {
      const out = join(project, `single-${name}`);
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'index.ts'), `${lines.join('\n')}\n`);
      writeFileSync(
        join(out, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: false,
            declaration: true,
            emitDeclarationOnly: true,
            outDir: 'types',
            types: ['node'],
          },
          files: ['index.ts'],
        }),
      );
      dirs.push(out);
    }
    // One program per module (`tsc -b` builds each project on its own), one process for all.
    await run(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-b', ...dirs],
      project,
      160_000,
    );
    for (const out of dirs) {
      const emitted = readFileSync(join(out, 'types/index.d.ts'), 'utf8');
      assert.doesNotMatch(emitted, /hyperion\/dist\//, `${out}: declarations reaching into dist/`);
    }
  });

  it('every subpath loads with import and with require() and gives the same exports; its files are not importable', {
    timeout: 60_000,
  }, async () => {
    const subpaths = codeSubpaths();
    writeFileSync(
      join(project, 'load.mjs'),
      [
        `import { createRequire } from 'node:module';`,
        `const require = createRequire(import.meta.url);`,
        'const out = {};',
        `for (const s of ${JSON.stringify(subpaths)}) {`,
        '  const esm = Object.keys(await import(s)).sort();',
        '  const cjs = Object.keys(require(s)).filter((k) => k !== "__esModule" && k !== "module.exports").sort();',
        '  out[s] = { esm, same: JSON.stringify(esm) === JSON.stringify(cjs) };',
        '}',
        'for (const s of ["hyperion/dist/core/index.js", "hyperion/lib/core/README.md"]) {',
        '  try { await import(s); out[s] = "imported"; } catch (e) { out[s] = e.code; }',
        '}',
        // Bundlers and tools read the manifest through the package's own name.
        'out.manifest = [require("hyperion/package.json").name, (await import("hyperion/package.json", { with: { type: "json" } })).default.name];',
        'console.log(JSON.stringify(out));',
        '',
      ].join('\n'),
    );
    const out = JSON.parse(
      (await run(process.execPath, ['load.mjs'], project, 50_000)).trim().split('\n').pop()!,
    );
    for (const s of subpaths) {
      assert.ok(out[s].esm.length > 0, `${s} exports nothing`);
      assert.equal(out[s].same, true, `${s}: require() gives other exports than import`);
    }
    assert.equal(out['hyperion/dist/core/index.js'], 'ERR_PACKAGE_PATH_NOT_EXPORTED');
    assert.equal(out['hyperion/lib/core/README.md'], 'ERR_PACKAGE_PATH_NOT_EXPORTED');
    assert.deepEqual(out.manifest, ['hyperion', 'hyperion'], 'hyperion/package.json is exported');
    // What the README's example and the table name is there.
    assert.ok(out.hyperion.esm.includes('createApp') && out.hyperion.esm.includes('drainServer'));
    assert.deepEqual(out['hyperion/tracing/otel'].esm, ['createOtelTracer']);
  });
});
