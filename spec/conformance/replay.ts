/**
 * The replay of a failed model-based test that calls `fc.assert` itself (the memory cache's
 * `*-model.test.ts`; `runModel` in model.ts reads the same variables): fast-check prints the
 * `seed` and `path` of a failing sequence, and `HYPERION_MODEL_SEED` (+ `HYPERION_MODEL_PATH`)
 * give them back, as the README's Development section says. Those files used to ignore both, so
 * every run drew a new seed and a failure seen in `npm run check:model` could not be replayed.
 */

/** fast-check's `seed` and `path` from `env` (unset: neither, a random seed per run). */
export function modelReplay(env: NodeJS.ProcessEnv = process.env): { seed?: number; path?: string } {
  const raw = env.HYPERION_MODEL_SEED;
  if (raw === undefined || raw === '') return {};
  const seed = Number(raw);
  if (!Number.isInteger(seed))
    throw new Error(`HYPERION_MODEL_SEED must be the integer seed fast-check printed, not ${raw}`);
  const path = env.HYPERION_MODEL_PATH;
  return path ? { seed, path } : { seed };
}
