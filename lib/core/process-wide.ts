/**
 * State shared by every copy of the package loaded in one thread. npm installs two copies when
 * versions differ (an application on one version, a library it uses pinned to another, nested in
 * its own node_modules), and a bundle may carry a third; module-level state is then one per copy,
 * while what it guards is one per process: the signal that exits it, the OpenTelemetry globals,
 * the requests a drain refuses. Kept on `globalThis` under a `Symbol.for` key, so each copy finds
 * the one the first made. The value's shape is a contract between versions: change it only under
 * a new name.
 */
export function processWide<T extends object>(name: string, make: () => T): T {
  const key = Symbol.for(`hyperion.${name}`);
  const slots = globalThis as unknown as Record<symbol, T | undefined>;
  const existing = slots[key];
  if (existing !== undefined) return existing;
  const made = make();
  Object.defineProperty(globalThis, key, {
    value: made,
    configurable: false,
    enumerable: false,
    writable: false,
  });
  return made;
}
