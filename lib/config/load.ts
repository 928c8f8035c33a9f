/**
 * Loading and validating config files. A file (YAML or JSON) is read, environment overrides are
 * applied, and the result is validated against a valibot schema. Every bad field is reported at
 * once, with its path, what the field accepts in plain words and the received type — never a
 * value, and nothing under a field whose name looks like a secret.
 *
 * The YAML parser never prints: its warnings and errors become `ConfigError`s carrying only a
 * line, a column and our own wording (its messages quote the source, which may hold a secret).
 * Limits: `MAX_CONFIG_BYTES` per file or environment value, `MAX_CONFIG_DEPTH` levels of nesting,
 * `MAX_CONFIG_VALUES` values once aliases are expanded.
 */
import { isUtf8 } from 'node:buffer';
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as v from 'valibot';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { unknownOptionIssues } from '../core/options.js';
import { pathHint } from '../tracing/otel/env.js';
import { collectEnvOverrides } from './env.js';
import { checkTree, MAX_CONFIG_BYTES, MAX_ISSUES } from './limits.js';
import { describeType, type Found, isPlainObject, newFound, rootIssue } from './messages.js';
import { shownSource } from './printed.js';
import { withValidationEnv } from './sections/tracing.js';
import { validateConfig } from './validate.js';
import { type ConfigFormat, readText } from './yaml.js';

export { applyEnvOverrides, collectEnvOverrides, type EnvOrigin, mergeEnvOverrides } from './env.js';
export { MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES } from './limits.js';
export { describeType, displayPath, type Found, isSecretField, newFound } from './messages.js';
export { type PriorProblems, toConfigIssues, validateConfig } from './validate.js';
export { type ConfigFormat, parseConfigText } from './yaml.js';

export interface LoadOptions {
  /**
   * Environment to read instead of `process.env`: the `HYPERION__…` overrides and the `OTEL_BSP_*`
   * variables the tracing batch rule compares with. Default `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Override prefix. Default `HYPERION__`. */
  envPrefix?: string | undefined;
  /** Format; inferred from the extension (`.json` → JSON, anything else → YAML). */
  format?: ConfigFormat | undefined;
}

/**
 * Checks the options of the loading functions (`where` names the function): unknown keys (with
 * the nearest known one), `env` a mapping of text values (a value is never shown), `envPrefix`
 * non-empty text (an empty prefix would read every variable, `PATH` and `HOME` too, as an
 * override), `format` `yaml` or `json`. A typo such as `enviroment` would otherwise be ignored and
 * `process.env` read instead.
 */
export function checkLoadOptions(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(`${where}: options must be a mapping`, [
      {
        path: 'options',
        expected: 'a mapping of options',
        received: describeType(options),
        message: 'is not a mapping',
      },
    ]);
  }
  const issues: ConfigIssue[] = [...unknownOptionIssues(options, known)];
  const o = options as Record<string, unknown>;
  const bad = (path: string, expected: string, value: unknown, message = 'has the wrong type') =>
    issues.push({ path, expected, received: describeType(value), message });
  if (o.env !== undefined) {
    if (typeof o.env !== 'object' || o.env === null || Array.isArray(o.env)) {
      bad('env', 'a mapping of variable names to text (such as process.env)', o.env);
    } else {
      for (const [name, value] of Object.entries(o.env)) {
        if (value !== undefined && typeof value !== 'string')
          bad(`env.${name}`, 'text (environment values are text)', value);
      }
    }
  }
  if (o.envPrefix !== undefined && (typeof o.envPrefix !== 'string' || o.envPrefix === '')) {
    bad('envPrefix', 'a non-empty prefix such as "HYPERION__"', o.envPrefix, 'must be non-empty text');
  }
  if (o.format !== undefined && o.format !== 'yaml' && o.format !== 'json') {
    bad('format', '"yaml" or "json"', o.format, 'is not one of the accepted values');
  }
  if (o.source !== undefined && typeof o.source !== 'string') bad('source', 'text', o.source);
  if (issues.length > 0) throw new ConfigError(`${where}: invalid option(s)`, issues);
}

/** Reads at most `MAX_CONFIG_BYTES + 1` bytes, so a huge file (or a device) is never read whole. */
async function readLimited(path: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // Opening a named pipe waits for a writer, for ever if none comes (and holds a libuv thread
    // meanwhile); a socket cannot be opened at all. Both are refused before the open.
    const kind = await stat(path).then(
      (st) => (st.isFIFO() ? 'a named pipe (FIFO)' : st.isSocket() ? 'a socket' : undefined),
      () => undefined, // the open below reports ENOENT, EACCES… with its own code
    );
    if (kind !== undefined)
      throw new ConfigError(
        `cannot read config file ${path}: it is ${kind}, not a file; read it yourself and pass the text to loadConfigFromText`,
      );
    handle = await open(path, 'r');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    // `~/hyperion.yaml` is not expanded (no shell between the caller and the file system): a bare
    // ENOENT left a user whose home holds that file without a clue (tracing/otel/env.ts pathHint).
    throw new ConfigError(`cannot read config file ${path}: ${code}${pathHint(path, code)}`, [], {
      cause: err,
    });
  }
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_CONFIG_BYTES) {
      throw new ConfigError(`${path}: larger than ${MAX_CONFIG_BYTES} bytes (the limit for a config)`);
    }
    return buffer.subarray(0, length);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      [],
      { cause: err },
    );
  } finally {
    await handle.close();
  }
}

/** The line `offset` is on, a line ending at CRLF, LF or a lone CR (old Mac files end lines so). */
function lineOf(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a || (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a)) line++;
  }
  return line;
}

/**
 * The text of a config file: UTF-8 (a byte order mark allowed). Anything else is a ConfigError
 * naming the first line that is not UTF-8 — never decoded into U+FFFD, which would change a
 * value (a Latin-1 password) without a word — and never quoting the bytes.
 */
export function decodeConfigBytes(bytes: Buffer, source: string): string {
  const bom16 =
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  if (bom16) {
    throw new ConfigError(
      `${source}: is UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8`,
    );
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    // UTF-8 text has no NUL byte; UTF-16 text without a byte order mark has one in every other
    // byte (ASCII as "s\0e\0…"), which would otherwise be read as one odd string.
    const line = lineOf(bytes, nul);
    throw new ConfigError(
      `${source}: is not UTF-8 text: line ${line} holds a NUL byte (a UTF-16 file without byte order mark, or a binary file? save it as UTF-8)`,
    );
  }
  if (isUtf8(bytes)) return bytes.toString('utf8');
  // A line feed or carriage return is never part of a multi-byte UTF-8 sequence: the first line
  // that fails is the one.
  let start = 0;
  for (;;) {
    let end = start;
    while (end < bytes.length && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
    if (!isUtf8(bytes.subarray(start, end)) || end === bytes.length) break;
    start = end + 1;
  }
  const line = lineOf(bytes, start);
  throw new ConfigError(
    `${source}: is not UTF-8 text: line ${line} holds bytes that are not UTF-8 (save the file as UTF-8)`,
  );
}

/**
 * The checks a parsed config gets besides its schema: a mapping (or `undefined`, all defaults),
 * within the depth and size limits (a `ConfigError` at once), without reserved key names (in
 * `found`, or a `ConfigError` without it). The object is not changed.
 */
export function checkParsed(raw: unknown, source = 'config', found?: Found): void {
  if (raw === undefined) return;
  if (!isPlainObject(raw))
    throw new ConfigError(`${source}: the top level must be a mapping`, [rootIssue(raw)]);
  const own = found ?? newFound();
  checkTree(raw, { source, at: [] }, own, false);
  if (!found && own.issues.length > 0) {
    throw new ConfigError(
      `${source}: ${own.issues.length} invalid field(s)`,
      own.issues.slice(0, MAX_ISSUES),
    );
  }
}

/**
 * Parses config text, applies the environment overrides and validates, as `loadConfigFile` does
 * for a file. An empty document (only whitespace or comments) means "all defaults"; any other
 * document must be a mapping. One `ConfigError` lists every problem: the file's (unknown tags,
 * duplicate keys…), the environment variables' and the schema's.
 */
export function loadConfigText<S extends v.GenericSchema>(
  text: string,
  schema: S | ((raw: unknown) => S),
  options: LoadOptions & { source?: string | undefined } = {},
): v.InferOutput<S> {
  checkLoadOptions(options, ['env', 'envPrefix', 'format', 'source'], 'loadConfigFromText');
  // A fetched file's URL is the natural `source` (the README says to fetch a URL and pass the
  // text here): every message starts with it, so its credentials are hidden as when printed.
  const source = shownSource(options.source ?? 'config');
  // Checked as loadConfig checks its path: `loadConfigFromText(process.env.CONFIG)` with the
  // variable unset, or a Buffer from `readFile(path)` without an encoding, failed with a raw
  // TypeError from inside the parser ("Cannot read properties of undefined", "source is not a string").
  if (typeof text !== 'string')
    throw new ConfigError(
      `${source}: the config text must be a string, received ${Buffer.isBuffer(text) ? 'a Buffer (decode it first, e.g. readFile(path, "utf8"))' : describeType(text)}`,
    );
  const format = options.format ?? 'yaml';
  const inFile = newFound();
  const raw = readText(text, format, { source, at: [], envPrefix: options.envPrefix }, inFile);
  if (raw !== undefined && !isPlainObject(raw)) {
    throw new ConfigError(`${source}: the top level must be a mapping`, [rootIssue(raw)]);
  }
  const inEnv = newFound();
  const env = options.env ?? process.env;
  const { value, origins } = collectEnvOverrides(raw, env, options.envPrefix, source, inEnv);
  // The OTEL_* variables the rules compare with come from the same environment as the overrides.
  return withValidationEnv(env, () =>
    validateConfig(typeof schema === 'function' ? schema(value) : schema, value, source, origins, [
      { what: `in the ${format === 'json' ? 'JSON' : 'YAML'}`, found: inFile },
      { what: 'in environment variables', found: inEnv },
    ]),
  );
}

/**
 * The path of `loadConfig(path)`: text, or a `file:` URL (`new URL('./app.yaml', import.meta.url)`,
 * or as text: `import.meta.resolve('./app.yaml')`). A URL used to be read and then fail with a bare `TypeError` (from `extname`);
 * a Buffer likewise. Anything else is a ConfigError, as a path that cannot be read.
 */
function configPath(given: unknown): string {
  // A `file:` URL as text — `import.meta.resolve('./app.yaml')`, `new URL(…).href` — is read as
  // the URL it is: node:fs took it for a relative path (`file:/…` under the working directory),
  // and the ENOENT said a relative path is read from the working directory. No relative path
  // starts with `file://`.
  if (typeof given === 'string') {
    // Text in another URL's form (`https://config-server/app.yaml`) was taken for a relative path:
    // the ENOENT said a relative path is read from the working directory, and showed the URL,
    // credentials included. Nothing is fetched; no relative path starts with `scheme://` (a
    // Windows drive, `C://dir`, has a one-letter scheme and stays a path).
    const scheme = /^([a-z][a-z\d+.-]+):\/\//i.exec(given)?.[1];
    if (scheme && scheme.toLowerCase() !== 'file')
      throw new ConfigError(
        `cannot read config file: the path is a URL (${scheme.toLowerCase()}:, not shown); loadConfig reads a file path or a file: URL: fetch it yourself and pass the text to loadConfigFromText`,
      );
    if (!/^file:\/\//i.test(given)) return given;
    if (URL.canParse(given)) return configPath(new URL(given));
    // A file: URL cannot carry credentials, so one that does (`file://user:pw@server/app.yaml`, a
    // share's URL) does not parse, and this message showed it whole, password included.
    const shown = given.replace(/^(file:\/\/)[^/?#]*@/i, '$1[redacted]@');
    throw new ConfigError(`cannot read config file ${shown}: not a valid file: URL`);
  }
  if (given instanceof URL) {
    try {
      return fileURLToPath(given);
    } catch (err) {
      throw new ConfigError(
        `cannot read config file ${given.protocol} URL: ${(err as NodeJS.ErrnoException).code ?? 'error'} (a config URL is a file: URL)`,
        [],
        { cause: err },
      );
    }
  }
  throw new ConfigError(
    `cannot read config file: the path must be text or a file: URL, received ${Buffer.isBuffer(given) ? 'a Buffer' : describeType(given)}`,
  );
}

/**
 * Reads, overrides and validates a config file in one call. `schema` may be a function of the
 * parsed input, for configs whose shape depends on a field (such as `cache.type`).
 */
export async function loadConfigFile<S extends v.GenericSchema>(
  given: string | URL,
  schema: S | ((raw: unknown) => S),
  options: LoadOptions = {},
): Promise<v.InferOutput<S>> {
  checkLoadOptions(options, ['env', 'envPrefix', 'format'], 'loadConfig');
  const path = configPath(given);
  const bytes = await readLimited(path);
  const format = options.format ?? (extname(path).toLowerCase() === '.json' ? 'json' : 'yaml');
  return loadConfigText(decodeConfigBytes(bytes, path), schema, { ...options, format, source: path });
}
