/**
 * The public types as a TypeScript user meets them: the packed package unpacked into a fresh
 * project (the peers linked from this repository, the OpenTelemetry ones of this run's line —
 * nothing is downloaded), fixture modules typechecked by one `tsc -b` over two projects: `nodenext`
 * with `exactOptionalPropertyTypes`, and `bundler` without it, both `strict`,
 * `noUncheckedIndexedAccess` and `verbatimModuleSyntax`. The fixtures assert types exactly
 * (`same<A, B>(true)`) and misuse with `@ts-expect-error`, so a type that widens fails as surely as
 * one that stops compiling. `skipLibCheck` is on: the declarations themselves are checked with it
 * off by packed.test.ts; here only what a user's own code sees is asserted, in ~2 s.
 * - The error classes' `code` is a string-literal union (an exhaustive `switch` compiles, a
 *   misspelt code does not); it was `string` for all but `CacheError`.
 * - Every TypeScript example of the pages compiles under `verbatimModuleSyntax` too, against the
 *   OpenTelemetry types of this run's line (packed.test.ts checks them against the 2.x ones).
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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

const FIXTURES: Record<string, string> = { 'same.ts': SAME, 'errors.ts': ERRORS };

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

  it('error codes are literal unions, the pages’ examples compile under verbatimModuleSyntax', {
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
