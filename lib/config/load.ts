/**
 * Loading and validating config files. A file (YAML or JSON) is read, environment overrides are
 * applied, and the result is validated against a valibot schema. Every bad field is reported at
 * once, with its path, the expected shape and the received type — never the value of a field
 * whose name looks like a secret.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue, typeName } from '../core/errors.js';

/** Field names whose values are never echoed in errors. */
const SECRET = /pass(word|wd)?|secret|token|credential|auth|api_?key|private_?key|(^|_)key$/i;

/** True for field names like `password`, `api_key`, `auth_token`, `authorization`; not `key_prefix`. */
export function isSecretField(name: string): boolean {
  return SECRET.test(name);
}

export type ConfigFormat = 'yaml' | 'json';

/** Parses config text; YAML is a superset of JSON, but JSON gets JSON's stricter parser and errors. */
export function parseConfigText(text: string, format: ConfigFormat, source = 'config'): unknown {
  try {
    return format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    // Parser messages may quote the offending line, which could hold a secret: keep only the position.
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    throw new ConfigError(`${source}: not valid ${format.toUpperCase()}${where}`, [], {
      cause: redactCause(err),
    });
  }
}

function redactCause(err: unknown): Error {
  return new Error((err as Error)?.name ?? 'parse error');
}

/**
 * Environment overrides: `PREFIX` + path segments joined by `__`, upper-cased. With the default
 * prefix `HYPERION__`, `HYPERION__TRACING__SAMPLE_RATE=0.5` sets `tracing.sample_rate`. Values are
 * read as YAML scalars/flow collections, so `true`, `0.5`, `[a, b]` and `{k: v}` keep their types.
 */
export function applyEnvOverrides(
  config: unknown,
  env: Readonly<Record<string, string | undefined>>,
  prefix = 'HYPERION__',
): unknown {
  const root: Record<string, unknown> = isPlainObject(config) ? structuredClone(config) : {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name
      .slice(prefix.length)
      .split('__')
      .map((s) => s.toLowerCase());
    if (path.some((s) => s === '' || s === '__proto__' || s === 'constructor' || s === 'prototype')) continue;
    let node = root;
    for (const seg of path.slice(0, -1)) {
      if (!isPlainObject(node[seg])) node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    let value: unknown;
    try {
      value = parseYaml(raw);
    } catch {
      value = raw;
    }
    node[path.at(-1)!] = value ?? raw;
  }
  return root;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Converts valibot issues to `ConfigIssue`s without leaking secret values. */
export function toConfigIssues(issues: readonly v.BaseIssue<unknown>[]): ConfigIssue[] {
  return issues.map((issue) => {
    const segments = (issue.path ?? []).map((p) => String(p.key));
    const path = segments.join('.');
    const secret = segments.some((s) => isSecretField(s));
    const unknownField = issue.type === 'strict_object' && issue.expected === 'never';
    const received = unknownField
      ? 'an unknown field'
      : issue.input === undefined
        ? 'missing'
        : typeName(issue.input);
    // valibot's default messages start with "Invalid " and quote the received value; custom ones
    // (written in our schemas) never contain the value and are the most helpful text.
    const custom = !issue.message.startsWith('Invalid ');
    let message: string;
    if (issue.kind === 'schema') {
      message = issue.input === undefined ? 'is required' : custom ? issue.message : schemaMessage(issue);
    } else if (secret && !custom) {
      message = `invalid ${issue.type}`;
    } else {
      message = issue.message;
    }
    return { path, expected: issue.expected ?? issue.type, received, message };
  });
}

function schemaMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'strict_object' && issue.expected === 'never') return 'is not a known field';
  if (issue.type === 'picklist' || issue.type === 'literal') return `must be ${issue.expected}`;
  if (issue.type === 'union' || issue.type === 'variant') return 'does not match any allowed shape';
  return 'has the wrong type';
}

/** Validates `input` against `schema`, throwing one ConfigError listing every bad field. */
export function validateConfig<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  source = 'config',
): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: false });
  if (result.success) return result.output;
  const issues = toConfigIssues(flattenUnionIssues(result.issues));
  throw new ConfigError(`${source}: ${issues.length} invalid field(s)`, issues);
}

// A failed union says "no branch matched". When some branch accepted the type but failed a check
// (e.g. "soon" is a string but not a duration), that check is the useful message; otherwise the
// union itself ("does not match any allowed shape") is. Then one issue per path.
function flattenUnionIssues(issues: readonly v.BaseIssue<unknown>[]): v.BaseIssue<unknown>[] {
  const flat = issues.flatMap((issue) => {
    if ((issue.type === 'union' || issue.type === 'variant') && issue.issues?.length) {
      const checks = issue.issues.filter((i) => i.kind === 'validation');
      if (checks.length > 0) return flattenUnionIssues(checks);
      if (issue.type === 'variant') return flattenUnionIssues(issue.issues);
    }
    return [issue];
  });
  const seen = new Set<string>();
  return flat.filter((issue) => {
    const key = (issue.path ?? []).map((p) => String(p.key)).join('.');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface LoadOptions {
  /** Environment to read overrides from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Override prefix. Default `HYPERION__`. */
  envPrefix?: string;
  /** Format; inferred from the extension (`.json` → JSON, anything else → YAML). */
  format?: ConfigFormat;
}

/**
 * Reads, overrides and validates a config file in one call. `schema` may be a function of the
 * parsed input, for configs whose shape depends on a field (such as `cache.type`).
 */
export async function loadConfigFile<S extends v.GenericSchema>(
  path: string,
  schema: S | ((raw: unknown) => S),
  options: LoadOptions = {},
): Promise<v.InferOutput<S>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      [],
      {
        cause: err,
      },
    );
  }
  const format = options.format ?? (extname(path).toLowerCase() === '.json' ? 'json' : 'yaml');
  const raw = parseConfigText(text, format, path);
  const merged = applyEnvOverrides(raw ?? {}, options.env ?? process.env, options.envPrefix);
  return validateConfig(typeof schema === 'function' ? schema(merged) : schema, merged, path);
}
