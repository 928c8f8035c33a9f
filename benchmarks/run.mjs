#!/usr/bin/env node
// `npm run bench`: runs every benchmarks/*.bench.ts one after another (never in parallel: the
// figures are ratios measured within one process, and a second benchmark would add noise).
// `npm run bench -- NAME …` runs those whose file name contains a NAME.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const usage = `usage:
  npm run bench [-- NAME …]   every benchmark, or those whose name contains a NAME (${all.map((f) => f.replace('.bench.ts', '')).join(', ')})
  npm run bench:<name> -- --help   one benchmark's own options (--quick, --json OUT, …)`;
const only = process.argv.slice(2);
if (only.includes('--help') || only.includes('-h')) {
  console.log(usage);
  process.exit(0);
}
// The arguments are only names: an option such as --quick (meant for one script) and a name that
// matches nothing used to run no benchmark at all and exit 0, which reads as a passing run.
const option = only.find((o) => o.startsWith('-'));
if (option !== undefined) {
  console.error(
    `${option}: npm run bench takes benchmark names only; pass options to one script\n\n${usage}`,
  );
  process.exit(2);
}
const unmatched = only.filter((o) => !all.some((f) => f.includes(o)));
if (unmatched.length > 0) {
  console.error(`${unmatched.join(', ')}: no such benchmark\n\n${usage}`);
  process.exit(2);
}
const files = all.filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', `${dir}${f}`], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
