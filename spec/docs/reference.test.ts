/**
 * The reference pages against the code, both ways:
 * - every Hyperion config block (YAML) of a user-facing page is a valid config: no key it shows is
 *   misspelt or gone (the schema rejects unknown keys);
 * - every key of the config schema is shown on its part's page (a YAML key or a code span);
 * - every relative link of a page reaches a file, and its `#anchor` a heading of that file;
 * - every option a factory accepts is named on its part's page. The factories' own lists are read
 *   from their answer to an unknown key (`expected: one of …`), so a new option without a line in
 *   the README fails here.
 * Which values and defaults the pages give is checked by each part's own tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type * as v from 'valibot';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import {
  aclRules,
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
} from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import {
  createAppFromConfig,
  loadConfigFromText,
  memorySection,
  metricsSection,
  redisSection,
  tracingSection,
} from '../../lib/config/index.js';
import { loggingSection, serviceSection } from '../../lib/config/schema.js';
import { tieredFields } from '../../lib/config/sections/tiered.js';
import {
  ConfigError,
  createApp,
  createConsoleLogger,
  createNoopCache,
  drainServer,
  jsonCache,
} from '../../lib/core/index.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { withoutCoverage } from '../harness/process.js';

const PAGES = [
  'README.md',
  'demo/README.md',
  'lib/PRODUCTION.md',
  'lib/config/README.md',
  'lib/core/README.md',
  'lib/tracing/README.md',
  'lib/cache/memory/README.md',
  'lib/cache/redis/README.md',
  'lib/cache/tiered/README.md',
  'lib/metrics/prometheus/README.md',
];

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (page: string) => readFileSync(join(root, page), 'utf8');
const yamlBlocks = (text: string) => [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** The names a page shows: keys in its YAML blocks (commented-out ones too) and words in code spans. */
function shownNames(page: string): Set<string> {
  const text = read(page);
  const names = new Set<string>();
  for (const block of yamlBlocks(text))
    for (const m of block.matchAll(/([A-Za-z_][\w-]*)\s*:/g)) names.add(m[1]!);
  const prose = text.replace(/```[\s\S]*?```/g, '');
  for (const span of prose.matchAll(/`([^`\n]+)`/g))
    for (const w of span[1]!.matchAll(/[A-Za-z_]\w*/g)) names.add(w[0]);
  return names;
}

/** Every key of a valibot schema built with `section()` (looseObject entries, through pipes, optionals and unions). */
function schemaKeys(schema: unknown, out = new Set<string>()): Set<string> {
  const s = schema as {
    entries?: Record<string, unknown>;
    pipe?: unknown[];
    wrapped?: unknown;
    options?: unknown;
  };
  if (s.entries) {
    for (const [key, entry] of Object.entries(s.entries)) {
      out.add(key);
      schemaKeys(entry, out);
    }
  }
  for (const p of s.pipe ?? []) if (p !== schema) schemaKeys(p, out);
  if (s.wrapped) schemaKeys(s.wrapped, out);
  if (Array.isArray(s.options)) for (const o of s.options) schemaKeys(o, out);
  return out;
}

/** The option names a factory accepts, from the issue it raises for an unknown key at `path`. */
function acceptedOptions(build: () => unknown, path = '__probe'): string[] {
  try {
    const built = build() as { close?: () => unknown } | undefined;
    void built?.close?.();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    const issue = e.issues.find((i) => i.path === path);
    assert.ok(issue, `no issue for ${path} in ${e.message}`);
    const names = issue.expected.replace(/^one of /, '').split(/\s*[,|]\s*/);
    assert.ok(names.length > 1, issue.expected);
    return names;
  }
  assert.fail(`the unknown option ${path} was accepted`);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of read(page)
    .replace(/```[\s\S]*?```/g, '')
    .matchAll(/^#+\s+(.*)$/gm)) {
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug);
    seen.set(slug, (n ?? -1) + 1);
    out.add(n === undefined ? slug : `${slug}-${n + 1}`);
  }
  return out;
}

describe('reference pages against the code', () => {
  it('every relative link reaches a file and a heading', () => {
    const broken: string[] = [];
    for (const page of [...PAGES, 'benchmarks/README.md']) {
      for (const m of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [file, hash] = link.split('#');
        const target = file ? normalize(join(dirname(page), file)) : page;
        if (!existsSync(join(root, target))) broken.push(`${page}: ${link} (no such file)`);
        else if (hash && target.endsWith('.md') && !anchors(target).has(hash))
          broken.push(`${page}: ${link} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('the packed package carries every page its pages link to (the demo excepted: it runs from a clone)', () => {
    // npm runs on whatever Node is first on PATH: without the test run's hooks (the 3.x run's
    // NODE_OPTIONS loads a Node 24 module hook, which Node 20's npm cannot import).
    const env = withoutCoverage();
    delete env.NODE_OPTIONS;
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const shipped = new Set<string>(
      (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path),
    );
    const missing: string[] = [];
    for (const page of [...shipped].filter((p) => p.endsWith('.md'))) {
      for (const m of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const [file] = m[1]!.split('#');
        if (!file || /^[a-z]+:/.test(file)) continue;
        const target = normalize(join(dirname(page), file));
        if (!target.startsWith('demo/') && !shipped.has(target)) missing.push(`${page}: ${m[1]}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('every config block of every page is a valid config', () => {
    let count = 0;
    for (const page of PAGES) {
      for (const text of yamlBlocks(read(page))) {
        if (!/^(service|logging|tracing|cache|metrics):/m.test(text)) continue;
        count++;
        assert.doesNotThrow(() => loadConfigFromText(text, { source: page, env: {} }), `${page}:\n${text}`);
      }
    }
    assert.ok(count >= 10, `found ${count} config blocks`);
  });

  it("every config key is shown on its part's page", () => {
    const sections: [string, unknown, string][] = [
      ['service', serviceSection, 'lib/config/README.md'],
      ['logging', loggingSection, 'lib/config/README.md'],
      ['tracing', tracingSection, 'lib/tracing/README.md'],
      ['metrics', metricsSection, 'lib/metrics/prometheus/README.md'],
      ['cache (memory)', memorySection, 'lib/cache/memory/README.md'],
      ['cache (redis)', redisSection, 'lib/cache/redis/README.md'],
      [
        'cache (tiered)',
        { entries: tieredFields } satisfies Pick<v.ObjectSchema<v.ObjectEntries, undefined>, 'entries'>,
        'lib/cache/tiered/README.md',
      ],
    ];
    const missing: string[] = [];
    for (const [name, schema, page] of sections) {
      const keys = schemaKeys(schema);
      assert.ok(keys.size > 0, name);
      const shown = shownNames(page);
      for (const key of keys) if (!shown.has(key)) missing.push(`${name}: ${key} (${page})`);
    }
    assert.deepEqual(missing, []);
  });

  it("every factory option is named on its part's page", async () => {
    const cache = createNoopCache();
    const factories: [string, string[], string][] = [
      ['createApp', acceptedOptions(() => createApp({ __probe: 1 } as never)), 'lib/core/README.md'],
      [
        'drainServer',
        acceptedOptions(() => drainServer(createServer(), { __probe: 1 } as never)),
        'lib/core/README.md',
      ],
      [
        'createConsoleLogger',
        acceptedOptions(() => createConsoleLogger({ __probe: 1 } as never)),
        'lib/core/README.md',
      ],
      ['jsonCache', acceptedOptions(() => jsonCache(cache, { __probe: 1 } as never)), 'lib/core/README.md'],
      [
        'createMemoryCache',
        acceptedOptions(() => createMemoryCache({ maxCost: 1, __probe: 1 } as never)),
        'lib/cache/memory/README.md',
      ],
      [
        'createRedisCache',
        [
          ...acceptedOptions(() => createRedisCache({ minIdleConns: 0, __probe: 1 } as never)),
          ...acceptedOptions(
            () => createRedisCache({ minIdleConns: 0, cluster: { __probe: 1 } } as never),
            'cluster.__probe',
          ),
          ...acceptedOptions(
            () => createRedisCache({ minIdleConns: 0, sentinel: { __probe: 1 } } as never),
            'sentinel.__probe',
          ),
        ],
        'lib/cache/redis/README.md',
      ],
      [
        'aclRules',
        acceptedOptions(() => aclRules({ keyPrefix: 'app:', mode: 'standalone', __probe: 1 } as never)),
        'lib/cache/redis/README.md',
      ],
      [
        'createTieredCache',
        [
          ...acceptedOptions(() => createTieredCache({ l1: cache, l2: cache, __probe: 1 } as never)),
          ...acceptedOptions(
            () => createTieredCache({ l1: cache, l2: cache, breaker: { __probe: 1 } } as never),
            'breaker.__probe',
          ),
        ],
        'lib/cache/tiered/README.md',
      ],
      [
        'createRedisTracking',
        acceptedOptions(() => createRedisTracking({ __probe: 1 } as never)),
        'lib/cache/tiered/README.md',
      ],
      [
        'createRedisInvalidationBus',
        acceptedOptions(() => createRedisInvalidationBus({ __probe: 1 } as never)),
        'lib/cache/tiered/README.md',
      ],
      [
        'createOtelTracer',
        [
          ...acceptedOptions(() => createOtelTracer({ exporter: 'memory', __probe: 1 } as never)),
          ...acceptedOptions(
            () => createOtelTracer({ exporter: 'memory', batch: { __probe: 1 } } as never),
            'batch.__probe',
          ),
        ],
        'lib/tracing/README.md',
      ],
      [
        'createMetrics',
        acceptedOptions(() => createMetrics({ __probe: 1 } as never)),
        'lib/metrics/prometheus/README.md',
      ],
      [
        'createPropagateOnlyTracer',
        acceptedOptions(() => createPropagateOnlyTracer({ __probe: 1 } as never)),
        'lib/tracing/README.md',
      ],
    ];
    let fromConfig: string[] = [];
    await createAppFromConfig({}, { __probe: 1 } as never).then(
      () => assert.fail('createAppFromConfig accepted an unknown option'),
      (e: ConfigError) => {
        fromConfig = e.issues[0]!.expected.replace(/^one of /, '').split(', ');
      },
    );
    factories.push(['createAppFromConfig', fromConfig, 'lib/config/README.md']);
    const missing: string[] = [];
    for (const [factory, options, page] of factories) {
      const shown = shownNames(page);
      for (const option of options) if (!shown.has(option)) missing.push(`${factory}: ${option} (${page})`);
    }
    assert.deepEqual(missing, []);
  });

  it('every error code of a part is named on its page, and every coded error a page names exists', () => {
    // The code unions of lib/core/errors.ts, read from the source (types are erased at run time).
    // MetricsError's duplicate_cache (metrics.watchCache), closed (listen() after close()) and
    // collect_timeout (a hanging onCollect callback's warning) were on no page.
    const source = read('lib/core/errors.ts');
    const union = (name: string) => {
      const m = new RegExp(`export type ${name} =([^;]*);`).exec(source);
      assert.ok(m, name);
      return [...m[1]!.matchAll(/'([a-z_]+)'/g)].map((c) => c[1]!);
    };
    const cachePages = [
      'lib/core/README.md',
      'lib/cache/memory/README.md',
      'lib/cache/redis/README.md',
      'lib/cache/tiered/README.md',
    ];
    const parts: [string, string[], string[]][] = [
      ['CacheError', union('CacheErrorCode'), cachePages],
      ['TracingError', union('TracingErrorCode'), ['lib/tracing/README.md']],
      ['MetricsError', union('MetricsErrorCode'), ['lib/metrics/prometheus/README.md']],
    ];
    const missing: string[] = [];
    const unknown: string[] = [];
    for (const [cls, codes, pages] of parts) {
      assert.ok(codes.length > 3, `${cls}: ${codes.join(', ')}`);
      const text = pages.map(read).join('\n');
      for (const code of codes)
        if (!text.includes(`\`${code}\``) && !text.includes(`'${code}'`))
          missing.push(`${cls} ${code} (${pages.join(', ')})`);
      for (const page of PAGES)
        for (const m of read(page).matchAll(new RegExp(`${cls}\\('([a-z_]+)'\\)`, 'g')))
          if (!codes.includes(m[1]!)) unknown.push(`${page}: ${m[0]}`);
    }
    assert.deepEqual(missing, []);
    assert.deepEqual(unknown, []);
  });

  it('an error class nothing in lib/ throws is said to be for your own components, not listed as thrown', () => {
    // ClosedError was listed among the errors Hyperion throws; nothing did (its parts say
    // CacheError('closed') / MetricsError('closed')).
    const classes = [...read('lib/core/errors.ts').matchAll(/export class (\w+Error) extends/g)].map(
      (m) => m[1]!,
    );
    assert.ok(classes.length >= 8, classes.join(', '));
    const files = spawnSync('git', ['ls-files', 'lib/*.ts', 'lib/**/*.ts'], { cwd: root, encoding: 'utf8' })
      .stdout.split('\n')
      .filter((f) => f && f !== 'lib/core/errors.ts');
    const code = files.map((f) => read(f)).join('\n');
    const core = read('lib/core/README.md').replace(/\s+/g, ' ');
    const unsaid: string[] = [];
    for (const cls of classes) {
      if (cls === 'HyperionError' || new RegExp(`new ${cls}\\(`).test(code)) continue;
      if (!core.includes(`nothing in Hyperion throws \`${cls}\``)) unsaid.push(cls);
    }
    assert.deepEqual(unsaid, []);
  });
});
