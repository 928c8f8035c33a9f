/**
 * OpenTelemetry semantic-convention attributes for HTTP and database spans, tracer-independent:
 * the stable names by default, plus the pre-stable (deprecated) duplicates for users who opt in
 * through `OTEL_SEMCONV_STABILITY_OPT_IN` — `http/dup` (HTTP) and `database/dup` (database), the
 * values OpenTelemetry's own instrumentations read. The value `http` / `database` (stable only) is
 * the default here, so they change nothing.
 */
import type { IncomingMessage } from 'node:http';
import type { Attributes } from '../core/contracts.js';
import { ConfigError, typeName } from '../core/errors.js';
import { forwardedFor, forwardedHostAs, forwardedProto } from '../core/forwarded.js';
import { httpKnownMethods, isKnownMethod, reloadKnownMethods } from '../core/http-methods.js';

export { httpKnownMethods, isKnownMethod };

/** What `OTEL_SEMCONV_STABILITY_OPT_IN` asks for: emit the deprecated attributes next to the stable ones. */
export interface SemconvOptIn {
  readonly httpDup: boolean;
  readonly databaseDup: boolean;
}

/** Reads `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated list; unknown entries are ignored). */
export function semconvOptIn(env: Readonly<Record<string, string | undefined>> = process.env): SemconvOptIn {
  const list = (env.OTEL_SEMCONV_STABILITY_OPT_IN ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return { httpDup: list.includes('http/dup'), databaseDup: list.includes('database/dup') };
}

let cached: SemconvOptIn | undefined;
/**
 * `semconvOptIn()` of the environment, read once (at the first call) and then cached: the
 * `process.env` read per span cost ~0.2 µs in a micro-benchmark, ~14 µs per request in the demo's
 * CPU profile. `traceHandler` takes it when the handler is created; after changing the variable at
 * run time, call `reloadSemconvOptIn()`.
 */
export function currentOptIn(): SemconvOptIn {
  cached ??= semconvOptIn();
  return cached;
}

/**
 * Re-reads `OTEL_SEMCONV_STABILITY_OPT_IN` (for handlers created and fetches made from now on) and
 * `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (for requests and fetches from now on).
 */
export function reloadSemconvOptIn(): SemconvOptIn {
  cached = semconvOptIn();
  reloadKnownMethods();
  return cached;
}

/**
 * Query parameters whose values are replaced by `REDACTED` in `url.query` / `url.full`: the
 * conventions' list (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`, and the newer
 * `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`) plus the usual credential names.
 * Compared case-insensitively (the conventions match case-sensitively: `Sig=` would be kept).
 * The conventions ask to scrub whatever sensitive content an instrumentation can identify, so
 * password, JWT and session names are here too: `?pwd=…`, `?jwt=…`, `?session=…` went out whole.
 */
export const SENSITIVE_QUERY_PARAMS: readonly string[] = [
  'awsaccesskeyid',
  'signature',
  'sig',
  'x-goog-signature',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'api_key',
  'apikey',
  'key',
  'password',
  'passwd',
  'secret',
  'client_secret',
  'code',
  'pwd',
  'pass',
  'jwt',
  'auth',
  'authorization',
  'session',
  'sessionid',
  'session_id',
  'session_token',
  'jsessionid',
  'private_token',
  'access_key',
  'secret_key',
  'client_assertion',
  'api-key',
  'x-api-key',
];
const SENSITIVE = new Set(SENSITIVE_QUERY_PARAMS);

/** A query string (without `?`) with the values of sensitive parameters replaced by `REDACTED`. */
export function redactQuery(query: string): string {
  // Exported: called from JavaScript with no string (`redactQuery(url.query)` of a URL without
  // one), it threw a raw TypeError ("query.split is not a function").
  if (typeof query !== 'string')
    throw new ConfigError('redactQuery: the query must be a string (without its leading ?)', [
      { path: 'query', expected: 'a string', received: typeName(query), message: 'has the wrong type' },
    ]);
  if (query === '') return query;
  let changed = false;
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    if (eq === -1) return part;
    let name: string;
    try {
      name = decodeURIComponent(part.slice(0, eq).replace(/\+/g, ' '));
    } catch {
      name = part.slice(0, eq);
    }
    if (!SENSITIVE.has(name.toLowerCase())) return part;
    changed = true;
    return `${part.slice(0, eq)}=REDACTED`;
  });
  return changed ? parts.join('&') : query;
}

/**
 * `url` without credentials and with sensitive query values redacted (for `url.full`). Any
 * credentials become `REDACTED:REDACTED@`, the one form the conventions give (a user name alone
 * showed as `REDACTED@`, a password alone as `:REDACTED@`). A fragment in `key=value` form is
 * redacted like a query: OAuth's implicit flow returns `#access_token=…`, and fetch keeps the
 * fragment in the URL it reports though it never sends it — the token went out whole.
 */
export function redactUrl(url: URL): string {
  const shown = new URL(url);
  if (shown.username || shown.password) {
    shown.username = 'REDACTED';
    shown.password = 'REDACTED';
  }
  if (shown.search) shown.search = redactQuery(shown.search.slice(1));
  if (shown.hash.includes('=')) {
    // `#access_token=…`, or a client-side route's own query: `#/callback?access_token=…`.
    const fragment = shown.hash.slice(1);
    const q = fragment.indexOf('?') + 1;
    shown.hash = fragment.slice(0, q) + redactQuery(fragment.slice(q));
  }
  return shown.href;
}

/**
 * `url.full` of `url`: `redactUrl(url)`, whose second parse is skipped when the href has neither
 * `@` (credentials), `?` (query) nor `#` (fragment) — nothing to redact; ~0.04 µs against
 * ~0.66 µs per call (micro-benchmark).
 */
export function fullUrl(url: URL): string {
  const href = url.href;
  return href.includes('@') || href.includes('?') || href.includes('#') ? redactUrl(url) : href;
}

/**
 * `host` and `port` of a `Host` header value (IPv6 in brackets allowed); undefined if malformed.
 * The common `name[:port]` skips the regex: ~0.10 µs against ~0.17 µs per request (micro-benchmark).
 */
export function parseHost(host: string): { address: string; port: number | undefined } | undefined {
  const h = host.trim();
  const parsed = parseHostFast(h) ?? parseHostSlow(h);
  // A port no TCP connection can have (`:99999`) is a malformed Host, as one with a space in its
  // name (`a b`): both were recorded as server.port / server.address as the client wrote them.
  return parsed && parsed.port !== undefined && parsed.port > 65535 ? undefined : parsed;
}

/**
 * `name` or `name:digits` (no brackets, one colon) in one pass over the characters, the colon
 * found on the way. Anything else (IPv6 `[::1]:8080`, malformed values) is left to `parseHostSlow`.
 */
function parseHostFast(h: string): { address: string; port: number | undefined } | undefined {
  let colon = -1;
  let port = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c === 58 /* : */) {
      if (colon !== -1 || i === 0) return undefined;
      colon = i;
    } else if (c === 91 /* [ */ || c === 93 /* ] */ || c <= 32 || c > 126)
      return undefined; // brackets, whitespace, controls, non-ASCII: left to the regex
    else if (colon !== -1) {
      if (c < 48 || c > 57) return undefined;
      port = port * 10 + (c - 48);
    }
  }
  if (colon === -1) return h === '' ? undefined : { address: h, port: undefined };
  // Over 15 digits the running sum may round differently from Number(): left to the regex.
  if (h.length - colon > 16) return undefined;
  return colon === h.length - 1 ? undefined : { address: h.slice(0, colon), port };
}

function parseHostSlow(h: string): { address: string; port: number | undefined } | undefined {
  const m = /^(\[[^\]\s]+\]|[^:\s]+)(?::(\d+))?$/.exec(h);
  if (!m) return undefined;
  return { address: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : undefined };
}

/** `scheme://authority` at the start of an absolute-form request target (linear: no backtracking). */
const ABSOLUTE_FORM = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;

/**
 * The origin-form part (`/path?query`) of a request target. A target in absolute form
 * (`http://user:pass@host/p?q`, what a forward proxy receives) loses its scheme, credentials and
 * host, which `url.path` must not carry; `*` and origin-form targets are returned as they are.
 */
function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 /* '/' */) return target;
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return target;
  const rest = target.slice(m[0].length);
  return rest === '' || rest.charCodeAt(0) !== 47 ? `/${rest}` : rest;
}

/** The attributes of a server span known when the request arrives (stable names). */
export function httpServerRequestAttributes(req: IncomingMessage, route: string | undefined): Attributes {
  const method = req.method ?? 'GET';
  const known = isKnownMethod(method);
  const target = originForm(req.url ?? '/');
  // A fragment is never part of the path or the query: a client that sent one anyway
  // (`/cb?state=1#access_token=…`) had it recorded inside `url.query`, where the redaction, which
  // reads `&`-separated names, did not see the token.
  const hash = target.indexOf('#');
  const url = hash === -1 ? target : target.slice(0, hash);
  const q = url.indexOf('?');
  const socket = req.socket as (IncomingMessage['socket'] & { encrypted?: boolean }) | undefined;
  // As a proxy reports the original request (`Forwarded`, `X-Forwarded-Proto`/`-Host`), as
  // client.address below; else this connection and its `Host` header.
  const scheme = forwardedProto(req.headers) ?? (socket?.encrypted ? 'https' : 'http');
  // HTTP/2 carries the host in the `:authority` pseudo-header (node:http2's compatibility request
  // has no `host` unless the client adds one), which the conventions list before `Host`: an HTTP/2
  // server span recorded the local socket's address and port instead.
  const authority = req.httpVersionMajor >= 2 ? req.headers[':authority'] : undefined;
  // The first source that parses: a malformed one (a port over 65535, a space in the name) is
  // skipped for the next — it made `server.address` the local socket's, a valid `Host` unread.
  const host =
    forwardedHostAs(req.headers, parseHost) ??
    (typeof authority === 'string' ? parseHost(authority) : undefined) ??
    (typeof req.headers.host === 'string' ? parseHost(req.headers.host) : undefined);
  const peer = socket?.remoteAddress;
  return {
    // An unknown method (node:http accepts WebDAV's and others) keeps the label set bounded.
    'http.request.method': known ? method : '_OTHER',
    'http.request.method_original': known ? undefined : method,
    'http.route': route,
    'url.scheme': scheme,
    'url.path': q === -1 ? url : url.slice(0, q),
    'url.query': q === -1 ? undefined : redactQuery(url.slice(q + 1)),
    'server.address': host?.address ?? socket?.localAddress,
    'server.port': host ? (host.port ?? (scheme === 'https' ? 443 : 80)) : socket?.localPort,
    'client.address': forwardedFor(req.headers) ?? peer,
    'network.peer.address': peer,
    'network.peer.port': socket?.remotePort,
    'network.protocol.version': protocolVersion(req),
    'user_agent.original': req.headers['user-agent'],
  };
}

/**
 * `network.protocol.version` of a request: the conventions write HTTP/2 as `2` (their examples:
 * `1.0`, `1.1`, `2`, `3`), where node:http2's compatibility API says `httpVersion` `2.0` — a
 * query or dashboard on `network.protocol.version="2"` missed every HTTP/2 request.
 */
function protocolVersion(req: IncomingMessage): string {
  const v = req.httpVersion;
  return req.httpVersionMajor >= 2 && v === `${req.httpVersionMajor}.0` ? String(req.httpVersionMajor) : v;
}

/** Pre-1.20 HTTP attribute names, for `http/dup`: the old name → the stable one it duplicates. */
const OLD_HTTP_SERVER: Readonly<Record<string, string>> = {
  'http.method': 'http.request.method',
  'http.status_code': 'http.response.status_code',
  'http.scheme': 'url.scheme',
  'net.host.name': 'server.address',
  'net.host.port': 'server.port',
  'http.client_ip': 'client.address',
  'net.sock.peer.addr': 'network.peer.address',
  'net.sock.peer.port': 'network.peer.port',
  'http.flavor': 'network.protocol.version',
  'http.user_agent': 'user_agent.original',
};
const OLD_HTTP_CLIENT: Readonly<Record<string, string>> = {
  'http.method': 'http.request.method',
  'http.status_code': 'http.response.status_code',
  'http.url': 'url.full',
  'net.peer.name': 'server.address',
  'net.peer.port': 'server.port',
};

/** `attrs` plus their deprecated duplicates when `http/dup` is on (unchanged otherwise). */
export function withHttpDup(
  attrs: Attributes,
  kind: 'server' | 'client',
  optIn = currentOptIn(),
): Attributes {
  if (!optIn.httpDup) return attrs;
  const out: Record<string, Attributes[string]> = { ...attrs };
  const map = kind === 'server' ? OLD_HTTP_SERVER : OLD_HTTP_CLIENT;
  for (const old in map) {
    const v = attrs[map[old]!];
    if (v !== undefined) out[old] = v;
  }
  // The old `http.flavor` wrote HTTP/2 as `2.0` (its examples: `1.0`, `1.1`, `2.0`, `SPDY`, `QUIC`).
  if (out['http.flavor'] === '2') out['http.flavor'] = '2.0';
  // The old `http.method` was the method as sent, never `_OTHER`.
  const original = attrs['http.request.method_original'];
  if (original !== undefined) out['http.method'] = original;
  if (kind === 'server' && attrs['url.path'] !== undefined) {
    const query = attrs['url.query'];
    out['http.target'] = query === undefined ? attrs['url.path'] : `${attrs['url.path']}?${query}`;
  }
  return out;
}

/**
 * Database client span attributes (stable names: `db.system.name`, `db.query.text`, …); with
 * `database/dup`, also `db.system` and `db.statement` (and `db.name`, `db.operation`,
 * `db.sql.table`, `net.peer.name`/`net.peer.port`).
 */
export function dbAttributes(
  a: {
    system: string;
    namespace?: string | undefined;
    operation?: string | undefined;
    collection?: string | undefined;
    queryText?: string | undefined;
    serverAddress?: string | undefined;
    serverPort?: number | undefined;
  },
  optIn = currentOptIn(),
): Attributes {
  const stable: Attributes = {
    'db.system.name': a.system,
    'db.namespace': a.namespace,
    'db.operation.name': a.operation,
    'db.collection.name': a.collection,
    'db.query.text': a.queryText,
    'server.address': a.serverAddress,
    'server.port': a.serverPort,
  };
  if (!optIn.databaseDup) return stable;
  return {
    ...stable,
    'db.system': a.system,
    'db.name': a.namespace,
    'db.operation': a.operation,
    'db.sql.table': a.collection,
    'db.statement': a.queryText,
    'net.peer.name': a.serverAddress,
    'net.peer.port': a.serverPort,
  };
}
