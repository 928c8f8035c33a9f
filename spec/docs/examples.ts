/**
 * The TypeScript examples of the user-facing pages, as files a compiler can check: each fenced
 * `ts` block with the prelude that gives it what it takes from its context. Used by
 * examples.test.ts (against lib/) and spec/consumer/packed.test.ts (against the packed package).
 *
 * Examples are fragments: the names a block uses without defining (`id`, `loadUserBytes`, …) and
 * the imports an earlier block of the page made are given by a prelude, keyed by a line of the
 * block. A block without a prelude must compile as it is; a prelude whose block is gone fails.
 */
import assert from 'node:assert/strict';

export const PAGES = [
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
export const PRELUDES: [string, string, string][] = [
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

/** One example: a file name unique to its page and line, and its text (a module, prelude first). */
export interface Example {
  name: string;
  text: string;
}

/** Every example of `PAGES`, read by `read(page)`; fails when a prelude matches no block or several. */
export function examples(read: (page: string) => string): Example[] {
  const used = new Set<number>();
  const out: Example[] = [];
  for (const page of PAGES) {
    const text = read(page);
    for (const m of text.matchAll(/```(?:ts|typescript)\n([\s\S]*?)```/g)) {
      const block = m[1]!;
      const line = text.slice(0, m.index).split('\n').length;
      const preludes = PRELUDES.flatMap(([p, marker, prelude], i) =>
        p === page && block.includes(marker) ? [[i, prelude] as const] : [],
      );
      assert.ok(preludes.length <= 1, `${page}:${line} matches several preludes`);
      for (const [i] of preludes) used.add(i);
      // `export {}` makes each file a module (top-level await, no name clashes between files).
      out.push({
        name: `${page.replace(/[/.]/g, '_')}_${line}.ts`,
        text: `export {};\n${preludes[0]?.[1] ?? ''}\n${block}`,
      });
    }
  }
  assert.ok(out.length >= 15, `found ${out.length} examples`);
  const stale = PRELUDES.filter((_, i) => !used.has(i)).map(([p, marker]) => `${p}: ${marker}`);
  assert.deepEqual(stale, [], 'preludes whose example is gone');
  return out;
}
