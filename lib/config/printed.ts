/**
 * How a validated config prints. It holds the secrets of its sources (passwords, tokens, OTLP
 * header values, TLS key passphrases): `console.log(config)`, `util.inspect`, a logger field or
 * `JSON.stringify` of it — or of any section of it — shows `[redacted]` in their place and URLs
 * without their credentials (see `withoutPassword`). The values stay readable as properties.
 */
import { inspect } from 'node:util';
import { SENSITIVE_QUERY_PARAMS } from '../tracing/semconv.js';
import { isSecretField, pathMayBeSecret } from './messages.js';

const REDACTED = '[redacted]';

const isRecord = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

const SENSITIVE_QUERY = new Set(SENSITIVE_QUERY_PARAMS);

/** A query parameter whose value is a credential: named like a secret field, or a known one (`sig`). */
function secretParam(raw: string): boolean {
  let name = raw;
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {}
  return isSecretField(name) || SENSITIVE_QUERY.has(name.toLowerCase());
}

/**
 * A URL without its credentials: `scheme://user:password@host…` → `scheme://user:[redacted]@host…`
 * (the userinfo ends at the authority's last `@`, as URL parsers read it, so a password holding
 * `@` is hidden whole), a user name alone (often a token: `https://ghp_…@host`) hidden too, and
 * the values of query parameters named like secrets (`?api_key=…`, `&sig=…`) hidden, in the query
 * and in a fragment written like one (`#access_token=…`).
 */
function withoutPassword(s: string): string {
  const written = asWritten(s);
  // The URL parser reads more than that pattern: it drops leading and trailing spaces and control
  // characters and every tab or line break, and reads `https:/host` or `https:host` as
  // `https://host` (the tracer's endpoint check and exporter included). A value that it reads with
  // credentials or a secret query parameter the pattern did not hide prints in its parsed form.
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return written;
  }
  const parsed = asWritten(url.href);
  if (parsed === url.href) return written;
  return written === s || /^[\0- ]|[\0- ]$|[\t\n\r]/.test(s) ? parsed : written;
}

/**
 * A `source` given to the loaders, as their messages show it: a URL without its credentials, by the
 * rules a loaded config prints with (`loadConfigFromText(text, { source: url })` of a fetched file).
 */
export const shownSource = (source: string): string => withoutPassword(source);

/** {@link withoutPassword} of a URL written in the usual form, `scheme://…`, kept as written. */
function asWritten(s: string): string {
  const scheme = /^[a-z][a-z\d+.-]*:\/\//i.exec(s);
  if (!scheme) return s;
  const start = scheme[0].length;
  // The authority ends at the first `/`, `?`, `#` (or `\`, which URL parsers read as `/`).
  const rest = s.slice(start).search(/[/?#\\]/);
  const end = rest === -1 ? s.length : start + rest;
  let out = s;
  const at = s.lastIndexOf('@', end - 1);
  if (at >= start) {
    const colon = s.indexOf(':', start);
    // `https://TOKEN:@host` (an API key as the user name, the password empty, as Stripe's or a
    // Git host's token URLs are written) is a user name alone: it used to print as
    // `https://TOKEN:[redacted]@host`, the token shown.
    out =
      colon !== -1 && colon < at - 1
        ? `${s.slice(0, colon)}:${REDACTED}${s.slice(at)}`
        : `${s.slice(0, start)}${REDACTED}${s.slice(at)}`;
  }
  // The query starts at the first `?` after the authority, unless a `#` comes first; the
  // fragment at the first `#` after that.
  const tail = out.length - (s.length - end);
  const mark = out.slice(tail).search(/[?#]/);
  if (mark === -1) return out;
  const q = tail + mark;
  const hash = out.indexOf('#', q);
  let shown = out.slice(0, q);
  if (out[q] === '?') shown += `?${secretParams(out.slice(q + 1, hash === -1 ? out.length : hash))}`;
  if (hash === -1) return shown;
  // A fragment in `key=value` form is read like a query, as `url.full` reads it (semconv.ts's
  // `redactUrl`): OAuth's implicit flow returns `#access_token=…`, or a client-side route's
  // own query `#/callback?access_token=…`. Such a callback URL printed with its token.
  const fragment = out.slice(hash + 1);
  const fq = fragment.indexOf('?') + 1;
  return `${shown}#${fragment.slice(0, fq)}${secretParams(fragment.slice(fq))}`;
}

/** `a=1&token=…`: the values of parameters named like secrets hidden. */
function secretParams(query: string): string {
  return query
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq !== -1 && secretParam(part.slice(0, eq)) ? `${part.slice(0, eq)}=${REDACTED}` : part;
    })
    .join('&');
}

/**
 * A value given where a file path belongs that may be the secret itself (a private key pasted into
 * `key_file`): printed as `[redacted]` as its messages never show it (messages.ts).
 */
const secretInPath = (key: string, value: unknown): boolean =>
  key.endsWith('_file') && typeof value === 'string' && pathMayBeSecret([key], value);

/**
 * A copy of `value` for printing: every text or byte value under a secret-named field (and every
 * header value: `x-honeycomb-team` carries a key too) replaced; numbers and booleans are kept
 * (`reject_unauthorized: false` must stay visible).
 */
function redacted(value: unknown, secret: boolean): unknown {
  if (Array.isArray(value)) return value.map((x) => redacted(x, secret));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value))
      out[k] = secretInPath(k, x) ? REDACTED : redacted(x, secret || k === 'headers' || isSecretField(k));
    return out;
  }
  if (typeof value === 'string') return secret ? REDACTED : withoutPassword(value);
  if (secret && (Buffer.isBuffer(value) || value instanceof Uint8Array)) return REDACTED;
  return value;
}

/**
 * A copy of `value` that is safe to print or log: every text or byte value under a secret-named
 * field or `headers` is `[redacted]`, and URLs lose their credentials, by the rules a loaded
 * config prints with. For copies of a loaded config: a spread (`{ ...config.cache }`),
 * `Object.assign`, `structuredClone` or a section rebuilt by hand is a plain object whose own
 * values print as they are — no hook can follow a spread without adding a field — so the password
 * a spread copies would be printed. Mappings, lists and their values are copied; other objects
 * (a Date, a class instance) are kept as they are; a cycle, or nesting deeper than 64 levels, is
 * cut with `[…]`.
 */
export function redactConfig(value: unknown): unknown {
  const seen = new Set<object>();
  const copy = (x: unknown, secret: boolean, depth: number): unknown => {
    const container = Array.isArray(x) || isRecord(x);
    if (container) {
      if (seen.has(x as object) || depth > 64) return '[…]';
      seen.add(x as object);
    }
    let out: unknown;
    if (Array.isArray(x)) out = x.map((item) => copy(item, secret, depth + 1));
    else if (isRecord(x)) {
      const o: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(x)) {
        // defineProperty: a `__proto__` key of a user's object stays a key, never a prototype.
        Object.defineProperty(o, k, {
          value: secretInPath(k, item)
            ? REDACTED
            : copy(item, secret || k === 'headers' || isSecretField(k), depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      out = o;
    } else out = redacted(x, secret);
    if (container) seen.delete(x as object);
    return out;
  };
  return copy(value, false, 0);
}

/**
 * Makes `config` and every mapping and list inside it print redacted (non-enumerable: copies and
 * equality are unchanged). Lists too: printed alone, a list under a secret-named field
 * (`attributes: { api_keys: [...] }`) or of URLs with credentials showed every value.
 */
export function printRedacted<T>(config: T, secret = false): T {
  if (Array.isArray(config)) for (const x of config) printRedacted(x, secret);
  if ((!isRecord(config) && !Array.isArray(config)) || Object.isFrozen(config)) return config;
  const node: object = config;
  Object.defineProperties(node, {
    [inspect.custom]: {
      configurable: true,
      value: (depth: number, options: object) =>
        depth < 0 ? (Array.isArray(node) ? '[Array]' : '[Object]') : inspect(redacted(node, secret), options),
    },
    toJSON: { configurable: true, value: () => redacted(node, secret) },
  });
  if (isRecord(node))
    for (const [k, x] of Object.entries(node))
      printRedacted(x, secret || k === 'headers' || isSecretField(k));
  return config;
}
