/**
 * The public types as a TypeScript user meets them: the packed package unpacked into a fresh
 * project (the peers linked from this repository, the OpenTelemetry ones of this run's line —
 * nothing is downloaded), fixture modules typechecked by one `tsc -b` over two projects: `nodenext`
 * with `exactOptionalPropertyTypes`, and `bundler` without it, both `strict`,
 * `noUncheckedIndexedAccess` and `verbatimModuleSyntax`. The fixtures assert types exactly
 * (`same<A, B>(true)`) and misuse with `@ts-expect-error`, so a type that widens fails as surely as
 * one that stops compiling. `skipLibCheck` is on: the declarations themselves are checked with it
 * off by packed.test.ts; here only what a user's own code sees is asserted, in a few seconds.
 * - The error classes' `code` is a string-literal union (an exhaustive `switch` compiles, a
 *   misspelt code does not); it was `string` for all but `CacheError`.
 * - `createApp` keeps the types of the parts it is given, on the app, its `ctx` and the contexts
 *   derived from it (`withSpan`, `startSpan`, `contextFromHeaders`, `traceHandler`); a part that
 *   may be absent is its contract (the app then holds the no-op). They were the contracts alone.
 * - `closeOnSignals` takes a read-only list of signals (`as const`), as its code does.
 * - `createAppFromConfig` takes a config written in code in the file's forms (`default_ttl: '5m'`,
 *   a number as a label value), as the code does; it was typed with the loaded config's output
 *   types (TS2322 without a cast). Typos and wrong types still fail to compile. One written
 *   `as const` compiles too: its lists (addresses, propagators) were TS4104, read-only.
 * - Every TypeScript example of the pages compiles under `verbatimModuleSyntax` too, against the
 *   OpenTelemetry types of this run's line (packed.test.ts checks them against the 2.x ones).
 * - An option a page's table marks **Deprecated** carries `@deprecated` in the declarations, so
 *   editors strike it through and lint rules report it (the README said so, the types did not).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { examples } from '../docs/examples.js';
import { tempDir } from '../harness/process.js';
import { buildAndPack, root, run } from './project.js';

const line: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;

const SAME = `type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when A and B are the same type. */
export const same = <A, B>(check: Equal<A, B>): Equal<A, B> => check;
`;

const ERRORS = `import {
  CacheError, ClosedError, ConfigError, HyperionError, MetricsError, TimeoutError, TracingError,
  type MetricsErrorCode, type TracingErrorCode,
} from 'hyperion';
import { same } from './same.js';

const unhandled = (code: never): never => {
  throw new Error(\`unhandled \${String(code)}\`);
};

export function tracingAdvice(err: TracingError): string {
  switch (err.code) {
    case 'otel_peer_missing':
    case 'otel_sdk_missing':
      return 'install the peer';
    case 'otel_exporter_unsupported':
    case 'otel_propagator_unsupported':
      return 'use OTLP';
    case 'flush_failed':
      return 'collector down';
    default:
      return unhandled(err.code);
  }
}

export function metricsAdvice(err: MetricsError): string {
  switch (err.code) {
    case 'invalid_option': case 'invalid_name': case 'invalid_label': case 'invalid_help':
    case 'invalid_buckets': case 'invalid_value': case 'incompatible_metric': case 'duplicate_cache':
      return 'fix the call';
    case 'collect_timeout': case 'listen_failed': case 'closed': case 'peer_missing':
      return 'operations';
    default:
      return unhandled(err.code);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof ConfigError) return same<typeof err.code, 'config_invalid'>(true) && err.code;
  if (err instanceof TimeoutError) return same<typeof err.code, 'timeout'>(true) && err.code;
  if (err instanceof ClosedError) return same<typeof err.code, 'closed'>(true) && err.code;
  if (err instanceof CacheError) return err.code;
  // The base class stays open to every code.
  if (err instanceof HyperionError) return same<typeof err.code, string>(true) && err.code;
  return 'other';
}

// @ts-expect-error a misspelt code is not a TracingErrorCode
export const typo = (err: TracingError) => err.code === 'flush_fail';
// @ts-expect-error a misspelt code is not a MetricsErrorCode
export const typo2 = (err: MetricsError) => err.code === 'invalid_labels';
export const codes: [TracingErrorCode, MetricsErrorCode] = ['flush_failed', 'invalid_label'];
`;

const APP = `import {
  closeOnSignals, contextFromHeaders, createApp, startSpan, withSpan,
  type App, type AppContext, type AppOptions, type Cache, type Metrics, type Tracer,
} from 'hyperion';
import { createMemoryCache, type MemoryCache } from 'hyperion/cache/memory';
import { createTieredCache, type TieredCache } from 'hyperion/cache/tiered';
import { createMetrics, type PrometheusMetrics } from 'hyperion/metrics/prometheus';
import { traceHandler, type HttpHandler } from 'hyperion/tracing';
import { createOtelTracer, type OtelTracer } from 'hyperion/tracing/otel';
import { same } from './same.js';

const tracer = createOtelTracer({ exporter: 'memory' });
const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1024 }), l2: createMemoryCache({ maxCost: 1024 }) });
const metrics = createMetrics({});
const pool = { query: (sql: string) => Promise.resolve(sql.length) };
const app = createApp({ tracer, cache, metrics, components: { pool } });

// The app and its context hold the parts with the types they were given.
same<typeof app.tracer, OtelTracer>(true);
same<typeof app.cache, TieredCache>(true);
same<typeof app.metrics, PrometheusMetrics>(true);
same<typeof app.ctx.tracer, OtelTracer>(true);
same<typeof app.ctx.cache, TieredCache>(true);
same<typeof app.ctx.components.pool, typeof pool>(true);
export const exported = app.tracer.exportStats().exportedSpans + app.cache.stats().l1Hits;
// ... and so do the contexts made from it.
withSpan(app.ctx, 'op', (ctx) => {
  same<typeof ctx.tracer, OtelTracer>(true);
  same<typeof ctx.metrics, PrometheusMetrics>(true);
  return ctx.components.pool.query('select 1');
});
const started = startSpan(app.ctx, 'op');
same<typeof started.ctx.cache, TieredCache>(true);
const fromHeaders = contextFromHeaders(app.ctx, { traceparent: undefined }).with({});
same<typeof fromHeaders.tracer, OtelTracer>(true);
export const server = traceHandler(app.ctx, async (ctx, _req, res) => {
  same<typeof ctx.cache, TieredCache>(true);
  res.end(String(await ctx.components.pool.query('select 1')));
});

// A part that may be absent (or is not given) is its contract: the app then holds the no-op.
declare const maybeTracer: OtelTracer | undefined;
const maybe = createApp({ tracer: maybeTracer });
same<typeof maybe.tracer, Tracer>(true);
const options: AppOptions = { tracer, cache };
const fromOptions = createApp(options);
same<typeof fromOptions.tracer, Tracer>(true);
same<typeof fromOptions.cache, Cache>(true);
const bare = createApp();
same<typeof bare.metrics, Metrics>(true);
same<typeof bare.ctx.components, Readonly<Record<string, unknown>>>(true);
const memoryOnly = createApp({ cache: createMemoryCache({ maxCost: 1 }) });
same<typeof memoryOnly.cache, MemoryCache>(true);

// A wrapper generic in its options compiles (as before); its app is typed with the contracts.
export function build<O extends AppOptions>(given: O) {
  const built = createApp({ ...given });
  same<typeof built.tracer, Tracer>(true);
  return createApp(given);
}

// Code typed with the contracts takes them as before.
export const plain: App = app;
export const plainCtx: AppContext = app.ctx;
const handler: HttpHandler = (ctx) => ctx.cache.get('k');
traceHandler(app.ctx, handler);

// A read-only list of signals is taken (closeOnSignals copies it).
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export const unwire = closeOnSignals(app, { signals: SIGNALS, exit: false });

// A misspelt option does not compile, alone or next to right ones.
// @ts-expect-error cahce is not an option
createApp({ cahce: cache });
// @ts-expect-error cahce is not an option
createApp({ tracer, cahce: cache });
`;

// createAppFromConfig takes an object written in code in the file's forms, as the config README
// says and the code does (it validates it as a file); it was typed with the loaded config's output
// types, so `default_ttl: '5m'` was TS2322 and needed a cast.
const CONFIG = `import {
  createAppFromConfig, loadConfigFromText, type CacheSectionInput, type HyperionConfig, type HyperionConfigInput,
} from 'hyperion/config';

export const inCode = await createAppFromConfig({
  tracing: { exporter: 'memory', batch: { scheduled_delay: '1s', export_timeout: 5000 } },
  cache: {
    type: 'tiered',
    l1: { type: 'memory', max_cost: 1024, default_ttl: '5m' },
    l2: { type: 'memory', max_cost: 4096 },
    ttl: '10m',
    breaker: { failures: 3, cooldown: '2s' },
  },
  metrics: { enabled: false, default_labels: { version: 1.1, region: 'eu' } },
});
const loaded: HyperionConfig = loadConfigFromText('cache: { type: memory, max_cost: 64 }\\n', { env: {} });
export const fromFile = await createAppFromConfig(loaded);
export const input: HyperionConfigInput = loaded;
export const redis: CacheSectionInput = { type: 'redis', addresses: ['127.0.0.1:6379'], dial_timeout: '1s' };
// Written \`as const\` (its \`type\` stays a literal in a variable): read-only lists, which the code
// only reads. They were TS4104 ("'readonly' … cannot be assigned to the mutable type").
const constant = {
  tracing: { exporter: 'memory', propagators: ['tracecontext', 'baggage'], attributes: { tags: ['a', 'b'] } },
  cache: {
    type: 'tiered',
    l1: { type: 'memory', max_cost: 1024 },
    l2: { type: 'redis', addresses: ['127.0.0.1:6379'], sentinel: { sentinel_addresses: ['127.0.0.1:26379'] } },
  },
} as const;
export const fromConstant = () => createAppFromConfig(constant);
// @ts-expect-error a list of numbers is no list of addresses, read-only or not
export const badList: HyperionConfigInput = { cache: { type: 'redis', addresses: [6379] as const } };
// What the runtime refuses does not compile either.
// @ts-expect-error tracng is not a section
await createAppFromConfig({ tracng: {} });
// @ts-expect-error default_tll is not a field
await createAppFromConfig({ cache: { type: 'memory', max_cost: 1, default_tll: '5m' } });
// @ts-expect-error a port is a number
await createAppFromConfig({ metrics: { port: '9464' } });
// @ts-expect-error max_cost is required
await createAppFromConfig({ cache: { type: 'memory' } });
`;

const FIXTURES: Record<string, string> = {
  'same.ts': SAME,
  'errors.ts': ERRORS,
  'app.ts': APP,
  'config.ts': CONFIG,
};

describe(`public types in a user's project (OpenTelemetry ${line}.x types)`, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let project: string;

  before(async () => {
    dir = await tempDir('public-types');
    const tarball = await buildAndPack(dir.path);
    project = join(dir.path, 'project');
    const installed = join(project, 'node_modules/hyperion');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1'], project, 60_000);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
    };
    for (const name of [...Object.keys(manifest.peerDependencies), '@types/node']) {
      const from =
        line === 3 && name.startsWith('@opentelemetry/')
          ? join(root, 'spec/otel3/node_modules', name)
          : join(root, 'node_modules', name);
      if (!existsSync(from)) continue; // not part of the 3.x set (sdk-trace-base, exporter-jaeger…)
      const link = join(project, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(from, link);
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  });
  after(() => dir?.remove());

  it('every option a page marks deprecated is @deprecated in the declarations', () => {
    const installed = join(project, 'node_modules/hyperion');
    const pages = readdirSync(installed, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.md') && !f.startsWith('node_modules'),
    );
    const documented = pages.flatMap((page) =>
      [...readFileSync(join(installed, page), 'utf8').matchAll(/^\| `(\w+)` \|.*\*\*Deprecated/gm)].map(
        (m) => m[1]!,
      ),
    );
    assert.ok(documented.includes('bufferItems'), 'the memory cache README marks bufferItems deprecated');
    const tagged = new Set<string>();
    const declarations = readdirSync(join(installed, 'dist'), { recursive: true, encoding: 'utf8' });
    for (const file of declarations.filter((f) => f.endsWith('.d.ts'))) {
      const path = join(installed, 'dist', file);
      const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isPropertySignature(node) && ts.getJSDocDeprecatedTag(node)) tagged.add(node.name.getText());
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    assert.deepEqual(
      documented.filter((name) => !tagged.has(name)),
      [],
      'documented as deprecated, not @deprecated in the declarations',
    );
  });

  it('error codes are literal unions, createApp keeps its parts’ types, the pages’ examples compile under verbatimModuleSyntax', {
    timeout: 120_000,
  }, async () => {
    const pages = examples((page) => readFileSync(join(project, 'node_modules/hyperion', page), 'utf8'));
    const configs = [
      ['nodenext', 'NodeNext', 'NodeNext', true],
      ['bundler', 'ESNext', 'Bundler', false],
    ] as const;
    for (const [name, module, moduleResolution, exact] of configs) {
      const out = join(project, name);
      mkdirSync(out, { recursive: true });
      const files = { ...FIXTURES };
      // The pages once (their examples do not depend on exactOptionalPropertyTypes being off).
      if (exact) for (const { name: file, text } of pages) files[file] = text;
      for (const [file, text] of Object.entries(files)) writeFileSync(join(out, file), text);
      writeFileSync(
        join(out, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
            module,
            moduleResolution,
            strict: true,
            exactOptionalPropertyTypes: exact,
            noUncheckedIndexedAccess: true,
            verbatimModuleSyntax: true,
            skipLibCheck: true,
            noEmit: true,
            types: ['node'],
          },
          files: Object.keys(files),
        }),
      );
    }
    await run(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-b', ...configs.map(([name]) => join(project, name))],
      project,
      110_000,
    );
  });
});
