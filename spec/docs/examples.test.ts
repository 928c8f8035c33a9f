/**
 * Every TypeScript example of the user-facing pages typechecks (strict) against the package: the
 * blocks are written to a temp project whose `hyperion/…` imports resolve to lib/, and `tsc` must
 * pass. So an option, method or export renamed in the code fails here, not in a user's editor.
 * The blocks and their preludes are in examples.ts; spec/consumer/packed.test.ts checks the same
 * blocks against the packed package as a user installs it.
 * Running them against real servers is what each part's tests do; the README quick start and the
 * demo summary are checked in spec/demo/run.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, withoutCoverage } from '../harness/process.js';
import { examples } from './examples.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

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
    const files: string[] = [];
    for (const { name, text } of examples((page) => readFileSync(join(root, page), 'utf8'))) {
      writeFileSync(join(dir.path, name), text);
      files.push(name);
    }
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
      env: withoutCoverage(),
      encoding: 'utf8',
      timeout: 170_000,
    });
    assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  } finally {
    await dir.remove();
  }
});
