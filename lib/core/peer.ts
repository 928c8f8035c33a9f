/**
 * Optional peer dependencies loaded when first needed. An adapter whose module imported its peer
 * statically could not even be imported without it: `import 'hyperion/cache/redis'` in an app
 * that only uses the memory cache on this machine crashed while loading with the loader's raw
 * `ERR_MODULE_NOT_FOUND`. Loaded here, the subpath imports, its peer-free exports (e.g.
 * `aclRules`) work, and the first factory call that needs the peer throws the adapter's typed
 * error naming the package to install.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

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
    throw fail(
      `${subpath} needs the optional peer dependency ${name}, which is not installed: npm install ${name}`,
      err,
    );
  }
  return require(path) as T;
}
