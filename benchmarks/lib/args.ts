/**
 * Command-line options of the benchmark scripts. A typo (`--qiuck`), a stray word or a number
 * that is not one would otherwise be a stack trace, or be ignored and run the wrong benchmark for
 * minutes; here each prints what was wrong and the script's usage, and exits 2. `--help` prints
 * the usage. A `--json OUT` that cannot be written (empty, or its folder missing) is refused here
 * too, before anything is measured, and so is one that names a folder.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export function benchArgs<const T extends Options>(usage: string, options: T) {
  type Values = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];
  let values: Values & { help?: boolean };
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true })
      .values as Values & { help?: boolean };
  } catch (err) {
    usageError(usage, (err as Error).message);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  // `npm run bench:memory -- --json OUT | head -20`: once the reader is gone the next line printed
  // met EPIPE, an uncaught 'error' event (a stack trace, exit 1) after minutes of measuring, and
  // the --json file, written after the tables, never was. What is left to print now goes nowhere;
  // the run, its --json and its exit code are unchanged.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  // Every script writes its --json file only at the end: a missing folder failed with a stack
  // trace after the whole run (minutes, servers started), and an empty name wrote nothing at all.
  const json = (values as { json?: unknown }).json;
  if (typeof json === 'string') {
    if (json.trim() === '') usageError(usage, '--json needs a file name');
    const folder = dirname(resolve(json));
    if (!existsSync(folder) || !statSync(folder).isDirectory())
      usageError(usage, `--json ${json}: its folder does not exist (${folder})`);
    // A folder given as OUT (`--json .`, `--json out/`) failed the same way, with EISDIR.
    if (/[/\\]$/.test(json) || (existsSync(json) && statSync(json).isDirectory()))
      usageError(usage, `--json ${json} names a folder, not a file (e.g. ${join(json, 'bench.json')})`);
  }
  return values as Values;
}

/** A numeric option: a finite number ≥ `min` (an integer when `integer`), or exit 2 naming it. */
export function numberArg(
  usage: string,
  name: string,
  value: string | undefined,
  { min = 0, integer = false }: { min?: number; integer?: boolean } = {},
): number {
  const n = Number(value);
  if (
    value === undefined ||
    value.trim() === '' ||
    !Number.isFinite(n) ||
    n < min ||
    (integer && !Number.isInteger(n))
  )
    usageError(
      usage,
      `--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(value)}`,
    );
  return n;
}

/** Prints `message` and the usage, exits 2. */
export function usageError(usage: string, message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}
