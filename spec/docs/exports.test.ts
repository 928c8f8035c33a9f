/**
 * Every runtime export of each entry point (package.json `exports`) is named on its part's page.
 * Issue 12 asks that an entry point export only what a user calls: an export that no page names is
 * either an internal that leaked or an API nobody can find (`createSingleflight`, `bindLogger`,
 * `withHttpDup` and others were exported and named on no page).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const PAGES: Record<string, string> = {
  '.': 'lib/core/README.md',
  './tracing': 'lib/tracing/README.md',
  './tracing/otel': 'lib/tracing/README.md',
  './cache/memory': 'lib/cache/memory/README.md',
  './cache/redis': 'lib/cache/redis/README.md',
  './cache/tiered': 'lib/cache/tiered/README.md',
  './metrics/prometheus': 'lib/metrics/prometheus/README.md',
  './config': 'lib/config/README.md',
};

const exportsField = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports as Record<
  string,
  { default?: string } | string
>;

describe('every export is named on its page', () => {
  it('maps every code subpath to a page', () => {
    const subpaths = Object.keys(exportsField).filter((k) => k !== './package.json');
    assert.deepEqual(subpaths.sort(), Object.keys(PAGES).sort());
  });

  for (const [subpath, page] of Object.entries(PAGES)) {
    it(`${subpath === '.' ? 'hyperion' : `hyperion${subpath.slice(1)}`} → ${page}`, async () => {
      // The source of what package.json publishes: ./dist/core/index.js → lib/core/index.ts.
      const target = exportsField[subpath];
      const built = typeof target === 'string' ? target : target?.default;
      assert.ok(built?.startsWith('./dist/'), `${subpath}: no ./dist/ target`);
      if (built === undefined) return;
      const entry = join(ROOT, 'lib', built.slice('./dist/'.length).replace(/\.js$/, '.ts'));
      const mod = (await import(entry)) as Record<string, unknown>;
      const text = readFileSync(join(ROOT, page), 'utf8');
      const names = Object.keys(mod);
      assert.ok(names.length > 0, `${entry} exports nothing`);
      const unnamed = names.filter(
        (name) => !new RegExp(`(^|[^\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(text),
      );
      assert.deepEqual(unnamed, [], `exported by ${entry} but named nowhere on ${page}`);
    });
  }
});
