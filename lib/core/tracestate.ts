/**
 * W3C `tracestate` validation, by the rules of the Trace Context specification (§3.3): a header
 * that breaks any of them is dropped whole — never passed on in part — because a vendor cannot
 * tell which of its members are still meaningful. Used by the no-op tracer and the OpenTelemetry
 * propagator alike (OpenTelemetry JS's own parser is lenient: it drops single members, accepts
 * more than 32, and has an older key grammar).
 *
 * - list: members separated by `,` with optional spaces/tabs around them; empty members are
 *   allowed and skipped; several `tracestate` headers are one list, concatenated in order.
 * - key: `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")` — at most 256
 *   characters, starting with a lowercase letter or a digit (so never with `@`).
 * - value: 1..256 printable ASCII characters (0x20–0x7E) except `,` and `=`, not ending in a space.
 * - at most 32 members.
 * - a key seen twice: the first member is kept, later ones are dropped (the spec allows either).
 */

/** The most list members a valid `tracestate` carries. */
export const MAX_TRACESTATE_MEMBERS = 32;

const KEY = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/;
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * `s` without the spaces and tabs (HTTP optional whitespace) around it, in one linear pass. A
 * pattern `/^[ \t]+|[ \t]+$/g` retries its second branch from every position of a run of
 * blanks: O(n²), a hostile 16 KB `tracestate` (the node:http header limit) cost 100–250 ms of
 * CPU per request.
 */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 32 || s.charCodeAt(start) === 9)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** A parsed `tracestate` list: [key, value] pairs in header order, keys unique. */
export type TracestateMembers = ReadonlyArray<readonly [string, string]>;

/**
 * Parses one or more `tracestate` header values (several headers are one list). Returns the
 * members, `[]` when the header is absent or empty, and `undefined` when it is invalid and must
 * be dropped.
 */
export function parseTracestate(
  header: string | readonly string[] | undefined,
): TracestateMembers | undefined {
  if (header === undefined) return [];
  // Anything but a string or an array of strings (a carrier built by hand) is an invalid header:
  // dropped. `.join` on a number threw, and the OpenTelemetry tracer's extract then lost the
  // valid traceparent beside it.
  let text: string;
  if (typeof header === 'string') text = header;
  else if (Array.isArray(header) && header.every((x) => typeof x === 'string')) text = header.join(',');
  else return undefined;
  const members: [string, string][] = [];
  const seen = new Set<string>();
  for (const raw of text.split(',')) {
    const member = trimOws(raw);
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return undefined;
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!KEY.test(key) || !VALUE.test(value)) return undefined;
    if (seen.has(key)) continue;
    seen.add(key);
    members.push([key, value]);
    if (members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  }
  return members;
}

/** `key=value,…` of `members`. */
export function serializeTracestate(members: TracestateMembers): string {
  let out = '';
  for (const [k, v] of members) out += out === '' ? `${k}=${v}` : `,${k}=${v}`;
  return out;
}

/**
 * The `tracestate` to pass on for an incoming header: normalized (`key=value` joined by `,`),
 * or `undefined` when the header is absent, empty or invalid (then none is sent).
 */
export function normalizeTracestate(header: string | readonly string[] | undefined): string | undefined {
  const members = parseTracestate(header);
  return members && members.length > 0 ? serializeTracestate(members) : undefined;
}

/** True when `key` / `value` are a valid `tracestate` key / value. */
export const isTracestateKey = (key: string): boolean => KEY.test(key);
export const isTracestateValue = (value: string): boolean => VALUE.test(value);
