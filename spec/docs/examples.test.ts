/**
 * Every TypeScript example of the user-facing pages typechecks (strict) against the package: the
 * blocks are written to a temp project whose `hyperion/…` imports resolve to lib/, and `tsc` must
 * pass. So an option, method or export renamed in the code fails here, not in a user's editor.
 *
 * Examples are fragments: the names a block uses without defining (`id`, `loadUserBytes`, …) and
 * the imports an earlier block of the page made are given by a prelude, keyed by a line of the
 * block. A block without a prelude must compile as it is; a prelude whose block is gone fails.
 * Running them against real servers is what each part's tests do; the README quick start and the
 * demo summary are checked in spec/demo/run.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../harness/process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const PAGES = [
  'README.md',
  'lib/PRODUCTION.md',
  'lib/config/README.md',
  'lib/core/README.md',
  'lib/tracing/README.md',
  'lib/cache/memory/README.md',
  'lib/cache/redis/README.md',
  'lib/cache/tiered/README.md',
  'lib/metrics/prometheus/README.md',
];

/** [page, a line of the block, the declarations and imports the block takes from its context]. */
const PRELUDES: [string, string, string][] = [
  [
    'lib/PRODUCTION.md',
    'const tracer = createOtelTracer({',
    `import { readFileSync } from 'node:fs';\nimport { createOtelTracer } from 'hyperion/tracing/otel';`,
  ],
  [
    'lib/PRODUCTION.md',
    'const metrics = createMetrics({',
    `import { readFileSync } from 'node:fs';\nimport { createMetrics } from 'hyperion/metrics/prometheus';`,
  ],
  [
    'lib/cache/memory/README.md',
    'const cache = createMemoryCache(',
    'declare function loadUserBytes(): Promise<Uint8Array>;\ndeclare const next: Uint8Array;\n' +
      'type User = { name: string };\ndeclare const ada: User;',
  ],
  [
    'lib/cache/redis/README.md',
    "mode: 'sentinel',",
    'declare const id: string;\ndeclare function loadUserBytes(id: string): Promise<Uint8Array>;\ndeclare const bytes: Uint8Array;',
  ],
  [
    'lib/cache/tiered/README.md',
    'const user = await cache.getOrSetWithMeta(',
    'declare const id: string;\ndeclare function loadUserBytes(id: string): Promise<Uint8Array>;',
  ],
  [
    'lib/cache/tiered/README.md',
    'tracking: createRedisTracking(',
    `import { createTieredCache } from 'hyperion/cache/tiered';\nimport { createMemoryCache } from 'hyperion/cache/memory';`,
  ],
  [
    'lib/core/README.md',
    "await withSpan(app.ctx, 'charge'",
    `import { createApp, withSpan } from 'hyperion';\nconst app = createApp({});\ndeclare const orderId: string;`,
  ],
  [
    'lib/core/README.md',
    "app.defer('http', drainServer(server, { graceMs: 8000 }));",
    `import { createServer, type RequestListener } from 'node:http';\n` +
      `import { closeOnSignals, createApp, drainServer } from 'hyperion';\n` +
      'const app = createApp({});\ndeclare const handler: RequestListener;',
  ],
  [
    'lib/metrics/prometheus/README.md',
    "createMetrics({ namespace: 'hyperion', naming: 'legacy' });",
    `import { createMetrics } from 'hyperion/metrics/prometheus';`,
  ],
  [
    'lib/metrics/prometheus/README.md',
    'metrics.instrument(handler, {',
    `import type { IncomingMessage, ServerResponse } from 'node:http';\nimport type { Span } from 'hyperion';\n` +
      `import { createMetrics } from 'hyperion/metrics/prometheus';\nconst metrics = createMetrics({});\n` +
      'declare const handler: (req: IncomingMessage, res: ServerResponse) => void;\n' +
      'declare const router: { match(url: string | undefined): { template: string } | undefined };\n' +
      'declare const requestSpans: Map<IncomingMessage, Span>;',
  ],
  [
    'lib/metrics/prometheus/README.md',
    'const orders = metrics.counter(',
    `import { createMetrics } from 'hyperion/metrics/prometheus';\nconst metrics = createMetrics({});\ndeclare const queue: unknown[];`,
  ],
  [
    'lib/tracing/README.md',
    'traceHandler(',
    `import http from 'node:http';\nimport { createConsoleLogger, type AppContext } from 'hyperion';\n` +
      'const logger = createConsoleLogger();\ndeclare const id: string;\n' +
      'declare const users: { find(ctx: AppContext, id: string): Promise<unknown> };',
  ],
];

const SUBPATHS: Record<string, string> = {
  hyperion: 'core',
  'hyperion/tracing': 'tracing',
  'hyperion/tracing/otel': 'tracing/otel',
  'hyperion/cache/memory': 'cache/memory',
  'hyperion/cache/redis': 'cache/redis',
  'hyperion/cache/tiered': 'cache/tiered',
  'hyperion/metrics/prometheus': 'metrics/prometheus',
  'hyperion/config': 'config',
};

it('every TypeScript example of the pages typechecks against the package', { timeout: 180_000 }, async () => {
  const dir = await tempDir('doc-examples');
  try {
    const used = new Set<number>();
    const files: string[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(root, page), 'utf8');
      for (const m of text.matchAll(/```(?:ts|typescript)\n([\s\S]*?)```/g)) {
        const block = m[1]!;
        const line = text.slice(0, m.index).split('\n').length;
        const preludes = PRELUDES.flatMap(([p, marker, prelude], i) =>
          p === page && block.includes(marker) ? [[i, prelude] as const] : [],
        );
        assert.ok(preludes.length <= 1, `${page}:${line} matches several preludes`);
        for (const [i] of preludes) used.add(i);
        const name = `${page.replace(/[/.]/g, '_')}_${line}.ts`;
        // `export {}` makes each file a module (top-level await, no name clashes between files).
        writeFileSync(join(dir.path, name), `export {};\n${preludes[0]?.[1] ?? ''}\n${block}`);
        files.push(name);
      }
    }
    assert.ok(files.length >= 15, `found ${files.length} examples`);
    const stale = PRELUDES.filter((_, i) => !used.has(i)).map(([p, marker]) => `${p}: ${marker}`);
    assert.deepEqual(stale, [], 'preludes whose example is gone');
    writeFileSync(join(dir.path, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir.path, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
          paths: Object.fromEntries(
            Object.entries(SUBPATHS).map(([spec, part]) => [spec, [join(root, 'lib', part, 'index.ts')]]),
          ),
        },
        files,
      }),
    );
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir.path], {
      encoding: 'utf8',
      timeout: 170_000,
    });
    assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  } finally {
    await dir.remove();
  }
});
