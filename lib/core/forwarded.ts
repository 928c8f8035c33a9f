/**
 * What a reverse proxy reports about the original request, for the OpenTelemetry HTTP conventions:
 * `url.scheme` is "the scheme of the original client request, if known (e.g. from Forwarded#proto,
 * X-Forwarded-Proto …)" and `server.address`/`server.port` come first from "Forwarded#host,
 * X-Forwarded-Host, or a similar header" — as `client.address` comes from `Forwarded: for=` /
 * `X-Forwarded-For`. Shared by the server spans (tracing) and the request metric (`url_scheme`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/** The first value of a header that may be repeated or comma-separated. */
function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  const item = (comma === -1 ? v : v.slice(0, comma)).trim();
  return item === '' ? undefined : item;
}

/**
 * Parameter `name` of the first element of a `Forwarded` header (RFC 7239), unquoted. A value
 * that is neither a token nor a whole quoted-string (`host="ex.com`, `for="[::1"`: a quote left
 * open, or one inside the value) is malformed and ignored: it used to be recorded with its stray
 * quote (`server.address: "ex.com`).
 */
export function forwardedParam(
  headers: IncomingHttpHeaders,
  name: 'proto' | 'host' | 'for',
): string | undefined {
  const element = first(headers.forwarded);
  if (element === undefined) return undefined;
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
    return value === '' || value.includes('"') || value.includes('\\') ? undefined : value;
  }
  return undefined;
}

/** A port as RFC 7239 writes it in a node: 1 to 5 digits up to 65535, or obfuscated (`_abc`). */
const NODE_PORT = /^(?:\d{1,5}|_[A-Za-z0-9._-]+)$/;
const portOk = (port: string) => NODE_PORT.test(port) && (port[0] === '_' || Number(port) <= 65535);

/**
 * The IP address of a node as `Forwarded: for=` (RFC 7239 §6) and `X-Forwarded-For` report it:
 * IPv4 `a.b.c.d`, IPv6 in brackets `[…]` (or bare, as some proxies write `X-Forwarded-For`),
 * each with an optional port, which is dropped. Anything else — `unknown`, an obfuscated
 * identifier (`_hidden`), a bracket left open (`[::1`), a name, a port over 65535 — is no address:
 * `undefined`.
 */
export function nodeAddress(node: string): string | undefined {
  if (node[0] === '[') {
    const close = node.indexOf(']');
    if (close === -1) return undefined;
    const rest = node.slice(close + 1);
    if (rest !== '' && (rest[0] !== ':' || !portOk(rest.slice(1)))) return undefined;
    const ip = node.slice(1, close);
    return isIPv6(ip) ? ip : undefined;
  }
  if (isIPv4(node) || isIPv6(node)) return node;
  const colon = node.indexOf(':');
  if (colon === -1 || colon !== node.lastIndexOf(':') || !portOk(node.slice(colon + 1))) return undefined;
  const ip = node.slice(0, colon);
  return isIPv4(ip) ? ip : undefined;
}

/**
 * The client's address a proxy reported: the first `Forwarded` element's `for=`, else the first
 * `X-Forwarded-For` entry, each only when it is an IP address (`nodeAddress`): a malformed or
 * unknown one falls through to the next source.
 */
export function forwardedFor(headers: IncomingHttpHeaders): string | undefined {
  if (headers.forwarded !== undefined) {
    const node = forwardedParam(headers, 'for');
    const address = node === undefined ? undefined : nodeAddress(node);
    if (address !== undefined) return address;
  }
  const xff = first(headers['x-forwarded-for']);
  return xff === undefined ? undefined : nodeAddress(xff);
}

/**
 * `http` or `https` as the client used it, when a proxy reported it (`Forwarded: proto=`, else
 * `X-Forwarded-Proto`); anything else is ignored, so a client cannot invent `url_scheme` values.
 */
export function forwardedProto(headers: IncomingHttpHeaders): 'http' | 'https' | undefined {
  if (headers.forwarded === undefined && headers['x-forwarded-proto'] === undefined) return undefined;
  const proto = (forwardedParam(headers, 'proto') ?? first(headers['x-forwarded-proto']))?.toLowerCase();
  return proto === 'http' || proto === 'https' ? proto : undefined;
}

/** The host (`name[:port]`) the client asked for, when a proxy reported it (`Forwarded: host=`, else `X-Forwarded-Host`). */
export function forwardedHost(headers: IncomingHttpHeaders): string | undefined {
  return forwardedHostAs(headers, (host) => host);
}

/**
 * `parse` of the host a proxy reported: of `Forwarded: host=`, else — absent, or refused by
 * `parse` (a port over 65535, a space in the name) — of `X-Forwarded-Host`. A malformed one is
 * skipped for the next source, as for `client.address`: it cost the sources after it (a valid
 * `Host` too), and `server.address` fell back to the local socket.
 */
export function forwardedHostAs<T>(
  headers: IncomingHttpHeaders,
  parse: (host: string) => T | undefined,
): T | undefined {
  if (headers.forwarded === undefined && headers['x-forwarded-host'] === undefined) return undefined;
  const fromForwarded = headers.forwarded === undefined ? undefined : forwardedParam(headers, 'host');
  const parsed = fromForwarded === undefined ? undefined : parse(fromForwarded);
  if (parsed !== undefined) return parsed;
  const fromX = first(headers['x-forwarded-host']);
  return fromX === undefined ? undefined : parse(fromX);
}
