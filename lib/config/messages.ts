/**
 * Plain words for config messages: field paths with secrets hidden, the type of a value (never the
 * value itself), and the issue shape every part of the loader reports.
 */
import type { ConfigIssue } from '../core/errors.js';

/**
 * Field names whose values are never echoed in errors. `pfx`: Node's TLS option for a PKCS#12
 * bundle, which holds the private key (a Redis `tls.pfx` printed whole through `redactConfig`).
 * `.` separates words as `-` and `_` do: attribute names are dotted (`api.key`, `private.key`),
 * and such an attribute printed whole where `api_key` printed `[redacted]`.
 */
const SECRET =
  /pass(word|wd|phrase)?|secret|token|credential|auth|cookie|api[-_.]?key|private[-_.]?key|(^|[-_.])key$|pfx/i;

/**
 * True for field names like `password`, `api_key`, `x-api-key`, `api.key`, `authorization`; not
 * `key_prefix`.
 */
export function isSecretField(name: string): boolean {
  return SECRET.test(name);
}

/** A key as shown in messages: a name part at most; what follows it may be a value run into the key. */
function displayKey(key: string): string {
  if (key === '<<') return key; // a YAML 1.1 merge key
  // An empty key (`"": x`, or `~: x`, a null key, which YAML reads as ""): shown as nothing, its
  // issue read `(root): is not a known field` at the top level, `cache.: …` below it.
  if (key === '') return '""';
  const name = /^[\w.\-/@]*/.exec(key)![0];
  if (name.length === key.length && key.length <= 64) return key;
  // A key that starts with an invisible character (a no-break space pasted as indentation, a
  // zero-width space) would show as a bare "…": name that character, which is no secret.
  const first = key.codePointAt(0);
  if (name === '' && first !== undefined && /^[\s\p{Cc}\p{Cf}]/u.test(key)) {
    return `(U+${first.toString(16).toUpperCase().padStart(4, '0')})…`;
  }
  return `${name.slice(0, 64)}…`;
}

/**
 * `a.b.c` for people, with every segment below a secret-named one hidden, and keys that are not
 * plain names cut after their name part (`password:hunter2` as a key, a typo for
 * `password: hunter2`, shows as `password…`).
 */
export function displayPath(segments: readonly string[], defined?: (index: number) => boolean): string {
  const i = segments.findIndex((s) => isSecretField(s));
  if (i < 0) return segments.map(displayKey).join('.');
  // Below a secret-named field only the keys its schema defines (`defined`) are shown: they are
  // names, never values (`metrics.auth.username`); every issue under `auth` read `metrics.auth.…`,
  // three different fields at one path. The first key that is not defined hides the rest.
  let end = i + 1;
  while (end < segments.length && defined?.(end)) end++;
  return [...segments.slice(0, end), ...segments.slice(end).map(() => '…')].map(displayKey).join('.');
}

export const isSecretPath = (segments: readonly string[]) => segments.some((s) => isSecretField(s));

/**
 * True when `value`, given where a file path belongs (the last of `segments`: `key_file`,
 * `ca_file`, `bearer_token_file` …), may be the secret itself and is never shown or printed: a
 * value with a line break, a PEM marker or over 1024 characters (a PEM pasted into `key_file`), or,
 * under a secret-named field or a private key's (`key_file`: an EC key's base64 body, pasted
 * without its PEM lines, is one short line), one that does not start like a path (`/`, `./`,
 * `../`, `~/`, `C:\`).
 */
export function pathMayBeSecret(segments: readonly string[], value: string): boolean {
  if (/[\r\n]/.test(value) || value.includes('-----BEGIN') || value.length > 1024) return true;
  const secret = isSecretPath(segments) || (segments.at(-1) ?? '').endsWith('key_file');
  return secret && !/^(\/|\.{1,2}[/\\]|~\/|[A-Za-z]:[/\\])/.test(value);
}

export const issue = (
  segments: readonly string[],
  message: string,
  expected: string,
  received: string,
): ConfigIssue => ({
  path: displayPath(segments),
  expected,
  received,
  message,
});

/**
 * Problems found while reading a config (YAML or JSON structure, environment overrides), and the
 * raw paths they make moot: the schema's issues at or below those paths are not reported again.
 * `incomplete` when the value could not be built at all (nothing is validated then).
 */
export interface Found {
  issues: ConfigIssue[];
  blocked: string[][];
  incomplete?: boolean | undefined;
  /**
   * Plain YAML numbers whose text is not how the number prints (`1.10`, `2.0`, `007`, `0x1F`),
   * with their paths: a field that turns numbers into text (a label value) gets the text as
   * written instead (see `validateConfig`), and a number-only field refuses a hexadecimal or
   * octal one. `env`: the environment variable whose value held the number.
   */
  numberTexts?: { path: string[]; text: string; env?: string | undefined }[] | undefined;
}

export const newFound = (): Found => ({ issues: [], blocked: [] });

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function rootIssue(value: unknown): ConfigIssue {
  return {
    path: '',
    expected: 'a mapping of sections (service, logging, tracing, cache, metrics)',
    received: describeType(value),
    message: 'must be a mapping of sections such as `tracing:` and `cache:`',
  };
}

/** The type of a value in plain words, never the value itself. */
export function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : 'a number';
  if (typeof value === 'boolean') return 'true/false';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return describeObject(value);
  return typeof value;
}

/**
 * A mapping, or the kind of object that is not one. An object given in code (`parseConfig`,
 * `createAppFromConfig`) where text belongs — `endpoint: new URL(…)`, `password: readFileSync(…)`
 * (a Buffer) — was "received a mapping", which it is not. A class name is never a value.
 */
function describeObject(value: object): string {
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return 'a mapping';
  if (Buffer.isBuffer(value)) return 'a Buffer (bytes, not text)';
  if (ArrayBuffer.isView(value)) return 'bytes (not text)';
  if (value instanceof URL) return 'a URL object (give its text, url.href)';
  if (value instanceof Map) return 'a Map';
  if (value instanceof Set) return 'a Set';
  const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && /^[\w$]{1,64}$/.test(name)
    ? `an object of class ${name}`
    : 'an object that is not a plain mapping';
}
