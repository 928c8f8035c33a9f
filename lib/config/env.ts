/** Environment overrides (`HYPERION__SECTION__FIELD=value`) merged into a parsed config. */
import { CST, Lexer } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_ISSUES, RESERVED_KEYS } from './limits.js';
import { type Found, isPlainObject, newFound, rootIssue } from './messages.js';
import { crLineEnds, readText, syntaxProblems } from './yaml.js';

/** Where an environment override put its value. */
export interface EnvOrigin {
  /** The config path the variable set (or a mapping it created on the way there). */
  readonly path: readonly string[];
  /** The variable's name. */
  readonly name: string;
  /** Its prefix (`HYPERION__`) and the whole path it names. */
  readonly prefix: string;
  readonly target: readonly string[];
}

/**
 * The text of the variable behind an origin that names the field it set (not a mapping created on
 * the way): validation gives a text field this text instead of the YAML number or boolean read
 * from it. Kept off the origin objects, which callers may log.
 */
export const envText = new WeakMap<EnvOrigin, string>();

/**
 * The value (text, a number, true/false, a list) a mapping created on a variable's way replaced:
 * `tracing: none` in the file and HYPERION__TRACING__SAMPLE_RATE set. Validation reports it when
 * the field refuses it on its own (the file's error was dropped without a word, and its `none`
 * became tracing on); a value the field takes (`tls: true`, given its `server_name`) stays
 * replaced. Kept off the origin objects, as `envText` is.
 */
export const replacedValue = new WeakMap<EnvOrigin, { value: unknown }>();

/**
 * YAML tokens that drop part of a value's text (`hunter2 #x` would be read as `hunter2`), and
 * aliases: a value has no anchor to refer to (`*abc` is a password, not a broken reference).
 */
const DROPS_TEXT = new Set(['comment', 'anchor', 'alias', 'directive-line', 'doc-start', 'doc-end']);
/** Tokens that say the value is written as YAML on purpose: quotes, a block scalar, a tag. */
const EXPLICIT = new Set(['single-quoted-scalar', 'double-quoted-scalar', 'block-scalar-header', 'tag']);

/**
 * How to read an environment value: `text` when reading it as YAML would silently drop part of
 * it (a comment, an anchor or alias, a directive or a document marker), `explicit` when it is
 * written as YAML on purpose (quoted, a `|`/`>` block, a tag), `yaml` otherwise.
 */
function envValueKind(raw: string): 'text' | 'explicit' | 'yaml' {
  if (raw.length > MAX_CONFIG_BYTES) return 'yaml'; // refused as too large by the parser
  let explicit = false;
  // Lexed with the line ends the parser will see (`9464<CR>#x` holds a comment once its CR is one).
  for (const lexeme of new Lexer().lex(crLineEnds(raw))) {
    const type = CST.tokenType(lexeme);
    if (type && DROPS_TEXT.has(type)) return 'text';
    if (type && EXPLICIT.has(type)) explicit = true;
  }
  return explicit ? 'explicit' : 'yaml';
}

/**
 * Environment overrides: `PREFIX` + path segments joined by `__`, upper-cased. With the default
 * prefix `HYPERION__`, `HYPERION__TRACING__SAMPLE_RATE=0.5` sets `tracing.sample_rate`. Values are
 * read as YAML scalars/flow collections, so `true`, `0.5`, `[a, b]` and `{k: v}` keep their types
 * (`validateConfig` then gives a text field the variable's text instead of a number or boolean YAML
 * read from it: `HYPERION__CACHE__PASSWORD=123456` is the password "123456", `=1e3` is "1e3");
 * a value that is not valid YAML, or is empty or null, or holds YAML that would drop part of its
 * text (a comment, an anchor, a directive, a document marker), is taken as plain text. A name with an
 * empty segment (`HYPERION__`, `HYPERION____X`, `HYPERION__A____B`) or a reserved one, and a value
 * with an unknown tag, throw a `ConfigError` naming the variable.
 */
export function applyEnvOverrides(
  config: unknown,
  env: Readonly<Record<string, string | undefined>>,
  prefix = 'HYPERION__',
): unknown {
  return mergeEnvOverrides(config, env, prefix).value;
}

/** `applyEnvOverrides`, also telling which variable set which path (for messages). */
export function mergeEnvOverrides(
  config: unknown,
  env: Readonly<Record<string, string | undefined>>,
  prefix = 'HYPERION__',
  source = 'config',
): { value: unknown; origins: EnvOrigin[] } {
  const found = newFound();
  const merged = collectEnvOverrides(config, env, prefix, source, found);
  if (found.issues.length > 0) {
    throw new ConfigError(
      `${source}: ${found.issues.length} problem(s) in environment variables`,
      found.issues.slice(0, MAX_ISSUES),
    );
  }
  return merged;
}

/** The config's top-level sections: a `HYPERION_` + section variable is an override mistyped. */
const SECTIONS = new Set(['service', 'logging', 'tracing', 'cache', 'metrics']);
/** Names already warned about (once per process, like the other warnings). */
const warnedNames = new Set<string>();

/**
 * The override that `name` was probably meant to be, when it starts with the prefix minus one `_`
 * followed by a section name (`HYPERION_TRACING__SAMPLE_RATE`, `HYPERION_CACHE_PASSWORD`), else
 * undefined. Other `HYPERION_…` variables (an app's or a tool's own) are not ours to judge.
 */
function mistypedOverride(name: string, prefix: string): string | undefined {
  if (!prefix.endsWith('__')) return undefined;
  const single = prefix.slice(0, -1);
  if (!name.startsWith(single) || name.startsWith(prefix)) return undefined;
  const rest = name.slice(single.length);
  const cut = rest.indexOf('_');
  const head = cut === -1 ? rest : rest.slice(0, cut);
  if (!SECTIONS.has(head.toLowerCase())) return undefined;
  if (cut === -1) return `${prefix}${head}__FIELD`;
  if (rest.includes('__')) return `${prefix}${rest}`;
  return `${prefix}${head}__${rest.slice(cut + 1)}`;
}

/**
 * Warns (once per name, `HYPERION_CONFIG_ENV_NAME`) about variables that look like overrides with
 * a single `_` after the prefix's name: they are not read, and used to be ignored without a word.
 * A warning, not an error: an app may use such a name for a setting of its own (the demo reads
 * `HYPERION_TRACING_ENDPOINT`). The value is never shown.
 */
function warnMistyped(env: Readonly<Record<string, string | undefined>>, prefix: string): void {
  for (const name of Object.keys(env)) {
    if (env[name] === undefined || warnedNames.has(name)) continue;
    const cased = otherCasePrefix(name, prefix);
    const meant = cased ?? mistypedOverride(name, prefix);
    if (meant === undefined) continue;
    warnedNames.add(name);
    process.emitWarning(
      `environment variable ${name} is not read as a config override: overrides start with ` +
        (cased === undefined
          ? `${prefix} (two underscores) and separate the parts of the path with __ `
          : `${prefix}, in that case (environment names are case-sensitive) `) +
        `(did you mean ${meant}?)`,
      { code: 'HYPERION_CONFIG_ENV_NAME' },
    );
  }
}

/**
 * The override `name` was probably meant to be when it starts with the prefix in another case
 * followed by a section name (`hyperion__tracing__sample_rate`), else undefined. Such a variable
 * was ignored without a word (the prefix is matched as written; the path after it in any case).
 */
function otherCasePrefix(name: string, prefix: string): string | undefined {
  if (name.startsWith(prefix) || name.slice(0, prefix.length).toUpperCase() !== prefix.toUpperCase())
    return undefined;
  const rest = name.slice(prefix.length);
  const head = rest.split('__')[0]!;
  if (!SECTIONS.has(head.toLowerCase())) return undefined;
  return `${prefix}${rest.toUpperCase()}`;
}

/** An environment problem as an issue: its path is the variable's name, the message says why. */
function nameIssue(name: string, expected: string, received: string, why: string): ConfigIssue {
  return { path: name, expected, received, message: `environment variable ${name}: ${why}` };
}

/**
 * `mergeEnvOverrides`, collecting the problems of every variable in `found` (a malformed name, a
 * value with an unknown tag or a duplicate key, a value over a limit) instead of stopping at the
 * first; a variable with a problem sets nothing.
 */
export function collectEnvOverrides(
  config: unknown,
  env: Readonly<Record<string, string | undefined>>,
  prefix: string | undefined,
  source: string,
  found: Found,
): { value: unknown; origins: EnvOrigin[] } {
  prefix ??= 'HYPERION__';
  if (config !== undefined && !isPlainObject(config)) {
    throw new ConfigError(`${source}: the top level must be a mapping`, [rootIssue(config)]);
  }
  const root: Record<string, unknown> = config === undefined ? {} : copyTree(config);
  warnMistyped(env, prefix);
  const origins: EnvOrigin[] = [];
  // Names are read in lower case: two variables differing only in case name one field. Which one
  // won depended on their sort order, without a word; both are reported instead.
  const byPath = new Map<string, string>();
  const headerNames: HeaderNames = new WeakMap();
  const names = Object.keys(env)
    .filter((name) => name.startsWith(prefix) && env[name] !== undefined)
    .sort();
  for (const name of names) {
    const raw = env[name]!;
    const segments = name.slice(prefix.length).split('__');
    const path = segments.map((s) => s.toLowerCase());
    if (path.some((s) => s === '')) {
      found.issues.push(
        nameIssue(
          name,
          `${prefix}SECTION__FIELD, each part non-empty (\`__\` separates two parts)`,
          'an empty part',
          segments.length === 1 ? 'names no field' : 'has an empty part between two `__`',
        ),
      );
      continue;
    }
    if (path.some((s) => RESERVED_KEYS.has(s))) {
      found.issues.push(
        nameIssue(name, 'config keys', 'a reserved name', 'names a reserved key, not a config key'),
      );
      continue;
    }
    // A list is set whole: `HYPERION__CACHE__ADDRESSES__0` made the file's list a mapping
    // `{ 0: … }`, refused as "cache.addresses: has the wrong type … received a mapping", which
    // did not say that an item cannot be set by its index.
    const list = listAlong(root, path);
    if (list !== undefined) {
      const whole = `${prefix}${path.slice(0, list).join('__').toUpperCase()}`;
      found.issues.push(
        nameIssue(
          name,
          `the whole list, set by ${whole}`,
          'a variable naming an item of a list',
          `names an item of the list ${path.slice(0, list).join('.')}: a list is set whole, e.g. ${whole}='[…]'`,
        ),
      );
      continue;
    }
    const key = path.join('\0');
    const first = byPath.get(key);
    if (first !== undefined) {
      found.issues.push(
        nameIssue(
          name,
          'one variable per field',
          'a second variable for the same field',
          `sets ${path.join('.')} as ${first} does (names are read in lower case): keep one of them`,
        ),
      );
      found.blocked.push(path);
      continue;
    }
    byPath.set(key, name);
    const kind = envValueKind(raw);
    let value: unknown = raw;
    if (kind !== 'text') {
      const own = newFound();
      try {
        value = readText(raw, 'yaml', { source, at: path, env: name }, own);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (!syntaxProblems.has(err)) {
          // Over a limit (size, depth, values): reported, and the variable sets nothing.
          found.issues.push(
            nameIssue(
              name,
              'a value within the limits of a config',
              'a value over a limit',
              limitReason(err, name),
            ),
          );
          found.blocked.push(path);
          continue;
        }
        value = raw;
      }
      if (own.issues.length > 0 || own.incomplete) {
        // An unknown tag, a duplicate key…: reported, and the variable sets nothing.
        const from = ` (set by environment variable ${name})`;
        for (const i of own.issues) found.issues.push({ ...i, message: `${i.message}${from}` });
        found.blocked.push(path);
        continue;
      }
      // Numbers written otherwise than they print (`0x1F`, `-0`), for the checks of validateConfig.
      if (own.numberTexts) {
        found.numberTexts ??= [];
        for (const t of own.numberTexts) found.numberTexts.push({ ...t, env: name });
      }
    }
    let node = root;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i]!;
      if (!isPlainObject(node[seg])) {
        // A mapping the variable created (or put in place of another value) comes from it.
        const created: EnvOrigin = { path: path.slice(0, i + 1), name, prefix, target: path };
        if (node[seg] !== undefined && node[seg] !== null) replacedValue.set(created, { value: node[seg] });
        origins.push(created);
        node[seg] = {};
      }
      node = node[seg] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    // Header names are case-insensitive and variable names are read in lower case: the file's
    // `Authorization` is the header HYPERION__TRACING__HEADERS__AUTHORIZATION sets, so the
    // variable replaces it (kept beside it, the two were one header named twice: refused).
    if (path.length === 3 && path[0] === 'tracing' && path[1] === 'headers')
      replaceHeaderName(headerNames, node, last);
    node[last] = value ?? raw;
    const origin: EnvOrigin = { path, name, prefix, target: path };
    // Quoted, block or tagged values are YAML on purpose: their YAML value stands.
    if (kind !== 'explicit') envText.set(origin, raw);
    origins.push(origin);
  }
  return { value: root, origins };
}

/**
 * How many segments of `path` lead to a list of `root` that the rest of `path` goes into (a
 * variable naming one of its items, or a key inside one), else undefined.
 */
function listAlong(root: Record<string, unknown>, path: readonly string[]): number | undefined {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isPlainObject(node)) return undefined;
    node = Object.hasOwn(node, path[i]!) ? node[path[i]!] : undefined;
    if (Array.isArray(node)) return i + 1;
  }
  return undefined;
}

/** Per `headers` mapping, its keys by lower-case name (built on first use, kept in step). */
type HeaderNames = WeakMap<Record<string, unknown>, Map<string, string[]>>;

/**
 * Deletes the keys of `headers` naming the header `name` (lower case) in another case, so the
 * variable's value replaces them. Through an index built once per mapping: a scan of every key for
 * each variable made an environment with n header variables quadratic (8,000 took ~4 s).
 */
function replaceHeaderName(index: HeaderNames, headers: Record<string, unknown>, name: string): void {
  let byLower = index.get(headers);
  if (!byLower) {
    byLower = new Map();
    for (const key of Object.keys(headers)) {
      const lower = key.toLowerCase();
      const same = byLower.get(lower);
      if (same) same.push(key);
      else byLower.set(lower, [key]);
    }
    index.set(headers, byLower);
  }
  for (const other of byLower.get(name) ?? []) if (other !== name) delete headers[other];
  byLower.set(name, [name]);
}

/**
 * A copy of the mappings and lists of a config (the merge changes them), other values shared.
 * Not `structuredClone`: it throws on a function or symbol in an object given to `parseConfig`
 * (with a DOMException quoting the function's source), where the schema says "wrong type".
 * Recursion is bounded by the depth limit.
 */
function copyTree<T>(node: T, depth = 0): T {
  // Past the depth limit (a cycle, in an object given to applyEnvOverrides directly) values are
  // shared, not copied.
  if (typeof node !== 'object' || node === null || depth > MAX_CONFIG_DEPTH) return node;
  if (Array.isArray(node)) return node.map((item) => copyTree(item, depth + 1)) as T;
  const proto = Object.getPrototypeOf(node);
  if (proto !== Object.prototype && proto !== null) return node;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(node)) {
    // defineProperty: a `__proto__` key stays a key (it is reported, never a prototype).
    Object.defineProperty(out, key, {
      value: copyTree((node as Record<string, unknown>)[key], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out as T;
}

/** The reason of a limit error, without the "environment variable X: " it starts with. */
function limitReason(err: ConfigError, name: string): string {
  const lead = `environment variable ${name}: `;
  return err.message.startsWith(lead) ? err.message.slice(lead.length) : err.message;
}
