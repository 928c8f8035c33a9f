/**
 * Two copies of `@opentelemetry/api` in one process (an application or library with its own
 * nested copy, or an install forced past a peer conflict) share one global registry, created by
 * the first copy to register anything. A copy of a newer minor cannot read a registry an older one
 * made (the API's own compatibility rule): its `context.active()` is then always the root and its
 * registrations fail, silently (only the API's diag logger says so, off by default). With
 * `activeContext` or `registerGlobal` our spans then never joined the application's active span
 * and nothing said why. This finds that case when the tracer is built.
 */

/** A warning when the process's OpenTelemetry globals belong to an API copy `ours` cannot read. */
export function apiCopyWarning(ours: string, features: string): string | undefined {
  const [major, minor = 0] = ours.split('.').map(Number);
  if (major === undefined || Number.isNaN(major)) return undefined;
  const registry = (globalThis as Record<symbol, { version?: unknown } | undefined>)[
    Symbol.for(`opentelemetry.js.api.${major}`)
  ];
  const theirs = registry?.version;
  if (typeof theirs !== 'string' || theirs === ours) return undefined;
  const [theirMajor, theirMinor = 0] = theirs.split('.').map(Number);
  // Same major and a minor at least ours: readable (as the API decides), the copies work together.
  if (theirMajor === major && theirMinor >= minor) return undefined;
  return (
    `tracing: the OpenTelemetry globals of this process were registered by @opentelemetry/api ${theirs}, ` +
    `but hyperion/tracing/otel loads @opentelemetry/api ${ours}, which cannot read them: ${features} ` +
    'has no effect (spans do not join the application’s active span or global provider). ' +
    'Install one copy of @opentelemetry/api (see `npm ls @opentelemetry/api`)'
  );
}
