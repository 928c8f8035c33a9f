/**
 * A second copy of the package's sources in a temp dir, as npm lays one out when two versions are
 * installed side by side (an application on one, a library it uses on another, nested in its own
 * node_modules): the same code as separate modules — separate module state — sharing the peers
 * (`@opentelemetry/api`, prom-client…), which resolve through a link to this repository's
 * node_modules. Import its `lib/<part>/index.ts` beside this repository's to act as both sides.
 */
import { cp, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface SecondCopy {
  /** The copy's `lib` directory (absolute). */
  readonly lib: string;
  remove(): Promise<void>;
}

export async function secondCopy(): Promise<SecondCopy> {
  const dir = await tempDir('second-copy');
  await cp(join(root, 'lib'), join(dir.path, 'lib'), { recursive: true });
  await writeFile(join(dir.path, 'package.json'), JSON.stringify({ name: 'hyperion', type: 'module' }));
  await symlink(join(root, 'node_modules'), join(dir.path, 'node_modules'), 'dir');
  return { lib: join(dir.path, 'lib'), remove: dir.remove };
}
