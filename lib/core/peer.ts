/**
 * Optional peer dependencies loaded when first needed. An adapter whose module imported its peer
 * statically could not even be imported without it: `import 'hyperion/cache/redis'` in an app
 * that only uses the memory cache on this machine crashed while loading with the loader's raw
 * `ERR_MODULE_NOT_FOUND`. Loaded here, the subpath imports, its peer-free exports (e.g.
 * `aclRules`) work, and the first factory call that needs the peer throws the adapter's typed
 * error naming the package to install.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The URL of the module whose `import.meta` is `meta`. A CommonJS bundle of the package (esbuild
 * `--format=cjs`) turns `import.meta` into an empty object: `createRequire(import.meta.url)` threw
 * `ERR_INVALID_ARG_VALUE` while the bundle loaded, before any of the application ran. There the
 * bundle's own file (`__filename`) stands in: peers resolve from beside it, as they would from
 * the package inside `node_modules`.
 */
export function moduleUrl(meta: ImportMeta): string {
  if (typeof meta.url === 'string') return meta.url;
  return pathToFileURL(typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js')).href;
}

/**
 * The file the package `name` resolves to from the module whose `import.meta` is `meta`; throws
 * the loader's error when it is not installed. ES-module resolution (`import.meta.resolve`: the
 * build a static `import` gets, for dual CommonJS/ES packages); in a CommonJS bundle, which has no
 * `import.meta.resolve` (every peer was taken as missing there), require's, which is also what that
 * bundle's own static imports of a peer get.
 */
export function resolveFrom(meta: ImportMeta, name: string): string {
  if (typeof meta.resolve === 'function') return fileURLToPath(meta.resolve(name));
  return createRequire(moduleUrl(meta)).resolve(name);
}

const require = createRequire(moduleUrl(import.meta));

/**
 * Whether `err`, from resolving or loading a peer, is Node's permission model refusing to read it
 * (`--permission` without an `--allow-fs-read` that covers `node_modules`). The package may well be
 * installed: the message said "not installed: npm install …", sending people to reinstall it.
 */
export function accessDenied(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_ACCESS_DENIED';
}

/** The message for a peer the permission model does not let us read (see `accessDenied`). */
export function unreadablePeerMessage(name: string, subpath: string, err: unknown): string {
  const resource = (err as { resource?: unknown }).resource;
  return `${subpath} cannot read the optional peer dependency ${name}: Node's permission model denied it${typeof resource === 'string' ? ` (${resource})` : ''}; allow its node_modules with --allow-fs-read`;
}

/**
 * The CommonJS package `name` (the same instance a static `import` gets), or the error `fail`
 * builds from the message naming the package, the subpath and the install command.
 */
export function requirePeer<T>(
  name: string,
  subpath: string,
  fail: (message: string, cause: unknown) => Error,
): T {
  let path: string;
  try {
    path = require.resolve(name);
  } catch (err) {
    if (accessDenied(err)) throw fail(unreadablePeerMessage(name, subpath, err), err);
    throw fail(
      `${subpath} needs the optional peer dependency ${name}, which is not installed: npm install ${name}`,
      err,
    );
  }
  return require(path) as T;
}
