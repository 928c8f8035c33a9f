/**
 * The HTTP methods the semantic conventions know (`http.request.method`; any other is `_OTHER`),
 * shared by the tracing and metrics adapters so a span and its request's metrics agree.
 */

/** The defaults: RFC 9110's methods plus PATCH. */
const DEFAULT_KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/**
 * The known methods `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` sets: a comma-separated,
 * case-sensitive list that replaces the defaults (it is not added to them). The conventions
 * require this override of an instrumentation that may record a valid method as `_OTHER` (a
 * WebDAV server's `PROPFIND`, which node:http accepts). Unset or empty: the defaults.
 */
export function httpKnownMethods(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ReadonlySet<string> {
  const raw = env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_KNOWN_METHODS;
  return new Set(
    raw
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean),
  );
}

/** `httpKnownMethods()` of the environment, read at the first use and cached. */
let knownMethods: ReadonlySet<string> | undefined;

/** Whether `method` is a known one (case-sensitive, as the conventions say). */
export function isKnownMethod(method: string): boolean {
  knownMethods ??= httpKnownMethods();
  return knownMethods.has(method);
}

/** Re-reads `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (for requests observed from now on). */
export function reloadKnownMethods(): void {
  knownMethods = httpKnownMethods();
}
