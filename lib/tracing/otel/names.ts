/**
 * Exporter and propagator names, default endpoints and endpoint normalisation: everything the
 * `hyperion/config` tracing section needs, without any OpenTelemetry import (so its type
 * declarations compile for a consumer who did not install OpenTelemetry).
 */

/** Where finished spans go. `memory` keeps them for `finishedSpans()`; `none` records nothing. */
export type ExporterName = 'otlp' | 'zipkin' | 'jaeger' | 'console' | 'memory' | 'none';
export const EXPORTERS: readonly ExporterName[] = ['otlp', 'zipkin', 'jaeger', 'console', 'memory', 'none'];

/** Header formats: W3C `traceparent`/`tracestate`, W3C `baggage`, B3 single/multi header, Jaeger `uber-trace-id`. */
export type PropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi' | 'jaeger';
export const PROPAGATORS: readonly PropagatorName[] = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger'];

/** Default collector endpoint of each network exporter (all on localhost, the usual agent setup). */
export const DEFAULT_ENDPOINTS = {
  otlp: 'http://localhost:4318/v1/traces',
  zipkin: 'http://localhost:9411/api/v2/spans',
  jaeger: 'http://localhost:14268/api/traces',
} as const;

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[^\s:/@]+):(\d{1,5})$/;

/** C0 control characters and DEL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_PROBLEM =
  'holds a control character (tab, newline…), which the URL parser would drop or encode';

/** `scheme://authority:` followed by the path, query, fragment or the end: a port left empty. */
const EMPTY_PORT = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*:(?=[/?#]|$)/i;

/**
 * Why an http(s) URL `url` (parsed from `text`) cannot be the collector's: a control character
 * inside the text, or a port 0 or left empty (`http://collector:/v1/traces`, a port variable that was not set). Node's HTTP client takes
 * either as the scheme's default, so spans went to port 80 (443) without a word — the `host:port`
 * form already refused port 0.
 */
export function urlProblem(text: string, url: URL): string | undefined {
  // The URL parser drops tabs and newlines anywhere (`http://local\nhost:4318` is localhost:4318)
  // and percent-encodes other control characters: a value with one inside, pasted or templated
  // wrong, would export somewhere it does not say. Around the value they are trimmed, as spaces.
  if (CONTROL.test(text.trim())) return CONTROL_PROBLEM;
  if (url.port === '0') return 'port must be between 1 and 65535 (port 0 would send to port 80 or 443)';
  if (EMPTY_PORT.test(text.trim()))
    return 'has an empty port after the ":" (it would send to port 80 or 443): give the port, or drop the ":"';
  return undefined;
}

/** Turns a configured endpoint into a URL, or explains what is wrong with it. */
export function normalizeEndpoint(
  endpoint: string,
  exporter: keyof typeof DEFAULT_ENDPOINTS,
): { url: string } | { problem: string } {
  const text = endpoint.trim();
  if (CONTROL.test(text)) return { problem: CONTROL_PROBLEM };
  const hp = HOST_PORT.exec(text);
  if (hp) {
    const port = Number(hp[2]);
    if (port < 1 || port > 65535) return { problem: 'port must be between 1 and 65535' };
    const url = `http://${text}${new URL(DEFAULT_ENDPOINTS[exporter]).pathname}`;
    // The exporters parse it again: a host the URL parser refuses (`local[host`) fails here, not there.
    if (!URL.canParse(url)) return { problem: 'must be an http(s) URL or host:port' };
    return { url };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'must be an http(s) URL or host:port' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: 'must use http or https' };
  if (!url.hostname) return { problem: 'must name a host' };
  const port = urlProblem(text, url);
  if (port) return { problem: port };
  return { url: url.href };
}

/**
 * What to install when the packages every part of `hyperion/tracing/otel` loads are missing: one
 * OpenTelemetry JS line's versions together, with its SDK. "npm install @opentelemetry/api
 * @opentelemetry/core @opentelemetry/resources", followed as written, took the newest of each —
 * the 3.x core (Node ≥ 22.15) beside the 2.x SDK on Node 20 — and no SDK.
 */
export const OTEL_INSTALL =
  'for OpenTelemetry JS 2.x (Node ≥ 20.19) npm install @opentelemetry/api@~1.9 @opentelemetry/sdk-trace-base@~2.12 @opentelemetry/core@~2.12 @opentelemetry/resources@~2.12, ' +
  'or for 3.x (Node ≥ 22.15) npm install @opentelemetry/api@~1.10 @opentelemetry/sdk-trace@~3.1 (which brings core and resources)';
