/**
 * Helpers of the consumer-project tests: children on this Node with a plain environment, the
 * package built and packed as published, and fresh consumer projects installed from that tarball.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutCoverage } from '../harness/process.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));

// Children get the plain environment: no test-run hook (the consumer resolves its own packages),
// and this Node first on PATH so npm and tsc run on it too.
const env: NodeJS.ProcessEnv = withoutCoverage({
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
});
delete env.NODE_OPTIONS;
delete env.HYPERION_OTEL_LINE;

/** Runs a child (killed after `timeoutMs`); resolves its stdout and stderr, rejects on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
  extra: NodeJS.ProcessEnv = {},
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${out.slice(-4000)}`));
    });
  });
}

/**
 * Builds the package and packs it into `dir`; resolves the tarball's path. The build goes into a
 * staging copy under `dir` (package.json, README, LICENSE, the pages beside the code and a fresh `dist`), not the worktree's
 * `dist`, so that test files packing at the same time do not delete each other's build.
 */
export async function buildAndPack(dir: string): Promise<string> {
  // Six test files pack the same package, each in its own process: the first one's tarball is
  // kept under the hash of everything that goes into it, and copied for the others (~9 s each,
  // twice per CI run). Any change to those inputs is a new hash, so a new build.
  const key = packInputsHash();
  const cacheDir = join(tmpdir(), 'hyperion-pack-cache', key);
  const cached = existsSync(cacheDir) ? readdirSync(cacheDir).find((f) => f.endsWith('.tgz')) : undefined;
  if (cached) {
    copyFileSync(join(cacheDir, cached), join(dir, cached));
    return join(dir, cached);
  }
  const tarball = await buildAndPackFresh(dir);
  // Written aside and renamed: a test file reading the cache never sees half a tarball.
  const parent = join(tmpdir(), 'hyperion-pack-cache');
  const partial = join(tmpdir(), `hyperion-pack-cache-${key}-${process.pid}`);
  mkdirSync(partial, { recursive: true });
  copyFileSync(tarball, join(partial, basename(tarball)));
  mkdirSync(parent, { recursive: true });
  try {
    renameSync(partial, cacheDir);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another file cached it first
  }
  // Only the current build is kept.
  for (const old of readdirSync(parent))
    if (old !== key) rmSync(join(parent, old), { recursive: true, force: true });
  return tarball;
}

/** Hash of the build's inputs: lib/, the shipped pages, the package files, tsconfigs and the compiler. */
function packInputsHash(): string {
  const hash = createHash('sha256');
  const add = (file: string) => {
    hash.update(relative(root, file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  };
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const file of [
    'package.json',
    'README.md',
    'LICENSE',
    'demo/README.md',
    'tsconfig.json',
    'tsconfig.build.json',
    'node_modules/typescript/package.json',
  ])
    add(join(root, file));
  for (const file of [...walk(join(root, 'lib')), ...walk(join(root, 'benchmarks'))]) add(file);
  return hash.digest('hex').slice(0, 24);
}

async function buildAndPackFresh(dir: string): Promise<string> {
  const staging = join(dir, 'package');
  mkdirSync(staging, { recursive: true });
  for (const file of ['package.json', 'README.md', 'LICENSE'])
    copyFileSync(join(root, file), join(staging, file));
  // The demo's guide, which README.md links to (its code is not shipped).
  mkdirSync(join(staging, 'demo'), { recursive: true });
  copyFileSync(join(root, 'demo/README.md'), join(staging, 'demo/README.md'));
  // The pages `files` ships beside the README (npm pack picks them by its globs).
  for (const dir of ['lib', 'benchmarks'])
    cpSync(join(root, dir), join(staging, dir), {
      recursive: true,
      filter: (src) => !/\.(ts|mjs|json)$/.test(src),
    });
  await run(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(staging, 'dist'),
    ],
    root,
    120_000,
  );
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], staging, 60_000);
  return join(dir, packed.trim().split('\n').pop()!.trim());
}

/** The `@types/node` version of the repository, for consumers to typecheck against. */
export function typesNodeVersion(): string {
  return JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8')).version;
}

/**
 * A fresh ES-module project in `dir` with `tarball` and `packages` installed from the registry
 * (npm cache first); resolves npm's output, which the caller checks for peer and engine warnings.
 */
export async function installProject(
  dir: string,
  tarball: string,
  packages: readonly string[],
  timeoutMs = 240_000,
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2),
  );
  return run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=warn',
      tarball,
      ...packages,
      `@types/node@${typesNodeVersion()}`,
    ],
    dir,
    timeoutMs,
  );
}

/** npm output that names a peer, resolution or engine problem. */
export const INSTALL_WARNING = /peer|ERESOLVE|EBADENGINE/i;

/** Writes `files` into the project and typechecks them strictly (`skipLibCheck: false`) into `out/`. */
export async function typecheck(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        types: ['node'],
        outDir: 'out',
      },
      files: Object.keys(files),
    }),
  );
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], dir, 120_000);
}

/** The installed version of a package in the project. */
export function installedVersion(dir: string, name: string): string {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}
