/**
 * The esbuild command of lib/PRODUCTION.md ("Bundling the service"), run as the page shows it —
 * the block's text through a shell, only with this repository's esbuild first on PATH — on a
 * service that imports the packed package: it must build, leave every optional peer out of the
 * bundle (the page says they are external), and the bundle must run from another directory with
 * the peers installed beside it.
 * The shell runs with `failglob`, as zsh (macOS's default shell) behaves by default: an unquoted
 * `--external:@opentelemetry/*` matches no file, and zsh stops with "no matches found" instead of
 * passing the pattern on to esbuild (bash passes it on by default).
 * spec/consumer/bundle.test.ts covers both output formats and the permission model with its own
 * esbuild arguments; this one keeps the page's command honest.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildAndPack, root, run } from '../consumer/project.js';
import { tempDir } from '../harness/process.js';

const MAIN = `import { createApp, withSpan } from 'hyperion';
import { createMemoryCache } from 'hyperion/cache/memory';
import { aclRules } from 'hyperion/cache/redis';
import { createAppFromConfig } from 'hyperion/config';
import { createMetrics } from 'hyperion/metrics/prometheus';
import { createOtelTracer } from 'hyperion/tracing/otel';

const metrics = createMetrics({ defaultLabels: { service: 'recipe' } });
const tracer = createOtelTracer({ serviceName: 'recipe', exporter: 'memory' });
const app = createApp({ tracer, metrics, cache: createMemoryCache({ maxCost: 1_000_000 }) });
await withSpan(app.ctx, 'outer', async () => {
  await app.cache.set('k', new Uint8Array([1, 2]));
});
const got = await app.cache.get('k');
const exposition = (await metrics.render()).body;
const spans = tracer.finishedSpans().map((s) => s.name);
await app.close();
const fromConfig = await createAppFromConfig({ service: { name: 'recipe' }, tracing: { exporter: 'memory' } });
await fromConfig.close();
console.log(JSON.stringify({ got: got && [...got], metrics: exposition.includes('service="recipe"'), spans, acl: aclRules({ keyPrefix: 'app:', mode: 'standalone' }).includes('~app:*') }));
`;

/**
 * The peers the page says to keep external, as esbuild's output names a bundled module
 * (`// node_modules/<name>/…`, or through the real path of a linked one: `// ../…/node_modules/<name>/…`).
 */
const PEERS = /^\/\/ \S*node_modules\/(@opentelemetry\/[^/]+|prom-client|iovalkey|valibot|yaml)\//gm;

const line: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;

let dir: Awaited<ReturnType<typeof tempDir>>;
let project: string;

before(async () => {
  dir = await tempDir('bundle-recipe');
  const tarball = await buildAndPack(dir.path);
  project = join(dir.path, 'project');
  const installed = join(project, 'node_modules/hyperion');
  mkdirSync(installed, { recursive: true });
  await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1'], project, 60_000);
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
    peerDependencies: Record<string, string>;
  };
  for (const name of Object.keys(manifest.peerDependencies)) {
    // Linked from this repository, as in spec/consumer/bundle.test.ts: nothing is downloaded.
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
  mkdirSync(join(project, 'src'));
  writeFileSync(join(project, 'src/main.ts'), MAIN);
});
after(() => dir?.remove());

it('the esbuild command of lib/PRODUCTION.md builds a bundle without the peers, and it runs', {
  timeout: 120_000,
}, async () => {
  const page = readFileSync(join(root, 'lib/PRODUCTION.md'), 'utf8');
  const blocks = [...page.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((b) => /^esbuild /m.test(b));
  assert.equal(blocks.length, 1, 'one esbuild command in lib/PRODUCTION.md');
  const command = blocks[0]!;
  assert.match(command, /--outfile=dist\/main\.mjs/);
  await run('bash', ['-O', 'failglob', '-c', command], project, 60_000, {
    PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
  });
  const bundle = readFileSync(join(project, 'dist/main.mjs'), 'utf8');
  assert.deepEqual([...new Set([...bundle.matchAll(PEERS)].map((m) => m[1]))], [], 'peers bundled in');
  const out = await run(process.execPath, [join(project, 'dist/main.mjs')], dir.path, 30_000);
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), {
    got: [1, 2],
    metrics: true,
    spans: ['outer'],
    acl: true,
  });
});
