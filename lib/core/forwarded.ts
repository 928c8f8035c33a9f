/**
 * What a reverse proxy reports about the original request, for the OpenTelemetry HTTP conventions:
 * `url.scheme` is "the scheme of the original client request, if known (e.g. from Forwarded#proto,
 * X-Forwarded-Proto …)" and `server.address`/`server.port` come first from "Forwarded#host,
 * X-Forwarded-Host, or a similar header" — as `client.address` comes from `Forwarded: for=` /
 * `X-Forwarded-For`. Shared by the server spans (tracing) and the request metric (`url_scheme`).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The first value of a header that may be repeated or comma-separated. */
function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  const item = (comma === -1 ? v : v.slice(0, comma)).trim();
  return item === '' ? undefined : item;
}

/** Parameter `name` of the first element of a `Forwarded` header (RFC 7239), unquoted. */
export function forwardedParam(headers: IncomingHttpHeaders, name: 'proto' | 'host'): string | undefined {
  const element = first(headers.forwarded);
  if (element === undefined) return undefined;
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== name) continue;
    const value = pair
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    return value === '' ? undefined : value;
  }
  return undefined;
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
  if (headers.forwarded === undefined && headers['x-forwarded-host'] === undefined) return undefined;
  return forwardedParam(headers, 'host') ?? first(headers['x-forwarded-host']);
}
