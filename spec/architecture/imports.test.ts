/**
 * The import graph of lib/ keeps the design's shape: the core imports nothing outside itself (node:
 * builtins aside), no adapter reaches into another adapter's folder, and nothing imports in a
 * cycle. Every import counts, type-only ones and `import('…')` types included: a type cycle is
 * still a cycle a reader has to untangle.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const lib = join(root, 'lib');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** A module of lib/ and what it imports: lib files (repo-relative) and bare specifiers (packages). */
interface Module {
  readonly file: string;
  readonly local: string[];
  readonly external: string[];
  readonly unresolved: string[];
}

/** `./x.js` names the compiled file; the source is `./x.ts` (or `./x/index.ts`). */
function resolveLocal(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return undefined;
}

function scan(files: readonly string[]): Map<string, Module> {
  const graph = new Map<string, Module>();
  for (const abs of files) {
    // preProcessFile sees import/export-from statements, `import('…')` calls and types, and require().
    const { importedFiles } = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true);
    const m: Module = { file: relative(root, abs), local: [], external: [], unresolved: [] };
    for (const { fileName: spec } of importedFiles) {
      if (!spec.startsWith('.')) {
        m.external.push(spec);
        continue;
      }
      const target = resolveLocal(abs, spec);
      if (target === undefined) m.unresolved.push(spec);
      else if (!m.local.includes(relative(root, target))) m.local.push(relative(root, target));
    }
    graph.set(m.file, m);
  }
  return graph;
}

/**
 * One cycle per tangle (strongly connected component of more than one module, or a self-import),
 * as `a → b → … → a`, followed by the tangle's size when it holds more modules than that cycle.
 */
function findCycles(graph: Map<string, Module>): string[] {
  // Tarjan's algorithm; the graph is small, so recursion depth is not a concern.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.local ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.local.includes(v)) components.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return components.map((scc) => {
    const path = cyclePath(graph, new Set(scc));
    const more = scc.length > path.length - 1 ? ` (${scc.length} modules import each other)` : '';
    return path.join(' → ') + more;
  });
}

/** One concrete cycle inside a component, as `a → b → … → a`, for the failure message. */
function cyclePath(graph: Map<string, Module>, scc: Set<string>): string[] {
  const start = [...scc].sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v)?.local ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...scc];
}

/**
 * The adapter a lib file belongs to: `cache/memory`, `cache/redis`, `cache/tiered`, `tracing/otel`,
 * `metrics/prometheus` (a folder under a kind), or `undefined` for the core, config and the
 * kind-level helpers such as lib/tracing/http.ts. lib/cache/ has no shared helpers: a file there
 * (`cache/x.ts`) is a cache of its own, so no `lib/cache/<a>` reaches any `lib/cache/<b>`.
 */
function adapterOf(file: string): string | undefined {
  const parts = relative('lib', file).split(/[\\/]/);
  if (parts[0] === 'cache' && parts.length === 2) return `cache/${parts[1]!.replace(/\.ts$/, '')}`;
  if (!['cache', 'tracing', 'metrics'].includes(parts[0]!) || parts.length < 3) return undefined;
  return `${parts[0]}/${parts[1]}`;
}

/** Every rule broken by `graph`, one line each. */
function violations(graph: Map<string, Module>): string[] {
  const out: string[] = [];
  for (const m of graph.values()) {
    for (const spec of m.unresolved)
      out.push(`${m.file}: import '${spec}' does not resolve to a file in lib/`);
    const inCore = m.file.startsWith('lib/core/');
    if (inCore) {
      for (const spec of m.external)
        if (!spec.startsWith('node:')) out.push(`${m.file}: the core imports the package '${spec}'`);
      for (const target of m.local)
        if (!target.startsWith('lib/core/')) out.push(`${m.file}: the core imports ${target}`);
    }
    const from = adapterOf(m.file);
    if (from === undefined) continue;
    for (const target of m.local) {
      const to = adapterOf(target);
      if (to === undefined || to === from) continue;
      const kind = from.startsWith('cache/') && to.startsWith('cache/') ? 'cache' : 'adapter';
      out.push(`${m.file}: ${kind} ${from} imports ${kind} ${to} (${target})`);
    }
  }
  return out.sort();
}

describe('architecture: the import graph of lib/', () => {
  const graph = scan(walk(lib));

  it('finds the modules and their imports', () => {
    assert.ok(graph.size > 50, `only ${graph.size} modules found under lib/`);
    assert.ok(graph.get('lib/core/index.ts')?.local.includes('lib/core/app.ts'));
  });

  it('has no import cycles', () => {
    const cycles = findCycles(graph);
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => `  ${c}`).join('\n')}`);
  });

  it('keeps the core self-contained and every adapter out of the others', () => {
    const found = violations(graph);
    assert.deepEqual(found, [], `import rules broken:\n${found.map((v) => `  ${v}`).join('\n')}`);
  });

  it('has no file named like the folder beside it (x.ts next to x/)', () => {
    const clashes = [...graph.keys()].filter((f) => existsSync(join(root, f.replace(/\.ts$/, ''))));
    assert.deepEqual(clashes, []);
  });

  it('the checks catch what they are meant to catch', () => {
    const fake = (file: string, local: string[], external: string[] = []): Module => ({
      file,
      local,
      external,
      unresolved: [],
    });
    const g = new Map<string, Module>(
      [
        fake('lib/core/a.ts', ['lib/core/b.ts', 'lib/cache/memory/index.ts'], ['node:fs', 'iovalkey']),
        fake('lib/core/b.ts', ['lib/core/a.ts']),
        fake('lib/cache/memory/index.ts', ['lib/core/a.ts']),
        fake('lib/cache/redis/bus.ts', ['lib/cache/tiered/types.ts']),
        fake('lib/cache/tiered/types.ts', []),
        fake('lib/cache/lease.ts', ['lib/cache/tiered/types.ts']),
        fake('lib/tracing/otel/x.ts', ['lib/metrics/prometheus/y.ts', 'lib/tracing/http.ts']),
        fake('lib/metrics/prometheus/y.ts', []),
        fake('lib/tracing/http.ts', []),
      ].map((m) => [m.file, m]),
    );
    assert.deepEqual(findCycles(g), [
      'lib/cache/memory/index.ts → lib/core/a.ts → lib/cache/memory/index.ts (3 modules import each other)',
    ]);
    assert.deepEqual(violations(g), [
      'lib/cache/lease.ts: cache cache/lease imports cache cache/tiered (lib/cache/tiered/types.ts)',
      'lib/cache/redis/bus.ts: cache cache/redis imports cache cache/tiered (lib/cache/tiered/types.ts)',
      'lib/core/a.ts: the core imports lib/cache/memory/index.ts',
      "lib/core/a.ts: the core imports the package 'iovalkey'",
      'lib/tracing/otel/x.ts: adapter tracing/otel imports adapter metrics/prometheus (lib/metrics/prometheus/y.ts)',
    ]);
  });
});
