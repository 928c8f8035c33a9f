/**
 * Loading optional peer dependencies: a missing one becomes one clear error naming the package to
 * install and the subpath (and feature) that needs it, instead of a raw `MODULE_NOT_FOUND`.
 */
import { HyperionError } from './errors.js';

/** An optional peer dependency a feature needs is not installed. */
export class MissingPeerError extends HyperionError {
  readonly packageName: string;
  readonly subpath: string;
  constructor(packageName: string, subpath: string, feature: string | undefined, cause: unknown) {
    super(
      'peer_missing',
      `${subpath}${feature ? ` (${feature})` : ''} needs the optional peer dependency ${packageName}, ` +
        `which is not installed: npm install ${packageName}`,
      { cause },
    );
    this.name = 'MissingPeerError';
    this.packageName = packageName;
    this.subpath = subpath;
  }
}

/** True when `err` says `packageName` itself (not one of its dependencies) cannot be found. */
export function isMissing(err: unknown, packageName: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code !== 'MODULE_NOT_FOUND' && e?.code !== 'ERR_MODULE_NOT_FOUND') return false;
  const message = typeof e.message === 'string' ? e.message : '';
  return message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`);
}

/**
 * `load(packageName)` (usually a `createRequire` require), turning "not installed" into a
 * `MissingPeerError` for `subpath` / `feature`. Other failures are rethrown unchanged.
 */
export function requirePeer<T>(
  load: (id: string) => unknown,
  packageName: string,
  subpath: string,
  feature?: string,
): T {
  try {
    return load(packageName) as T;
  } catch (err) {
    if (isMissing(err, packageName)) throw new MissingPeerError(packageName, subpath, feature, err);
    throw err;
  }
}
