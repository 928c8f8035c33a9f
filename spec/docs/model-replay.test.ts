/**
 * The README's Development section: `npm run check:model` runs "the model-based cache tests at
 * 2,000 sequences per cache (`HYPERION_MODEL_RUNS`)", and "model-based tests print their seed on
 * failure; `HYPERION_MODEL_SEED` and `HYPERION_MODEL_PATH` replay it". The memory cache's model
 * tests call `fc.assert` themselves and ignored both replay variables (each run drew a new seed, so
 * a failure could not be replayed), and its cost model ignored `HYPERION_MODEL_RUNS`. Checked here:
 * the replay helper gives fast-check back the failing sequence, and every file the script runs that
 * calls `fc.assert` passes it (and reads `HYPERION_MODEL_RUNS`), or goes through `runModel`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { modelReplay } from '../conformance/replay.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('.test.ts') ? [relative(root, p)] : [];
  });
}

it('HYPERION_MODEL_SEED and HYPERION_MODEL_PATH replay the failing sequence fast-check printed', () => {
  const property = fc.property(
    fc.integer({ min: 0, max: 1000 }),
    fc.array(fc.nat(9), { maxLength: 20 }),
    (n, xs) => {
      if (n % 7 === 3 && xs.length > 2) throw new Error('planted');
    },
  );
  const first = fc.check(property, { numRuns: 2000 });
  assert.ok(first.failed, 'the planted failure was not found');
  const env = {
    HYPERION_MODEL_SEED: String(first.seed),
    HYPERION_MODEL_PATH: first.counterexamplePath ?? '',
  };
  assert.deepEqual(modelReplay(env), { seed: first.seed, path: first.counterexamplePath });
  for (let i = 0; i < 3; i++) {
    const again = fc.check(property, { numRuns: 2000, ...modelReplay(env) });
    assert.ok(again.failed);
    assert.deepEqual(again.counterexample, first.counterexample);
  }
  assert.deepEqual(modelReplay({}), {});
  assert.throws(() => modelReplay({ HYPERION_MODEL_SEED: 'abc' }), /HYPERION_MODEL_SEED/);
});

it('every test file `npm run check:model` runs takes HYPERION_MODEL_RUNS and replays HYPERION_MODEL_SEED', () => {
  const script = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts['check:model'];
  assert.ok(script, 'no check:model script');
  const filters = script.split('spec/run.mjs')[1]!.trim().split(/\s+/);
  const files = testFiles(join(root, 'spec')).filter((f) => filters.some((x) => f.includes(x)));
  assert.ok(files.length >= 8, `check:model runs ${files.length} files`);
  const missing: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const asserts = text.split('fc.assert(').length - 1;
    if (asserts === 0) continue;
    checked++;
    if (text.split('modelReplay()').length - 1 < asserts && !/HYPERION_MODEL_SEED/.test(text))
      missing.push(`${file}: an fc.assert without modelReplay()`);
    if (!/HYPERION_MODEL_RUNS/.test(text)) missing.push(`${file}: does not read HYPERION_MODEL_RUNS`);
  }
  assert.ok(checked >= 4, `only ${checked} files call fc.assert`);
  assert.deepEqual(missing, []);
});
