/** Environment overrides (`HYPERION__SECTION__FIELD=value`) merged into a parsed config. */
import { CST, Lexer } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { MAX_CONFIG_BYTES, RESERVED_KEYS } from './limits.js';
import { isPlainObject, rootIssue } from './messages.js';
import { parseText, syntaxProblems } from './yaml.js';

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

/** YAML tokens that drop part of a value's text: `hunter2 #x` would be read as `hunter2`. */
const DROPS_TEXT = new Set(['comment', 'anchor', 'directive-line', 'doc-start', 'doc-end']);

/**
 * True when reading `raw` as YAML would silently drop part of it (a comment, an anchor, a
 * directive or a document marker): such a value is taken as the plain text it is.
 */
function yamlDropsText(raw: string): boolean {
  if (raw.length > MAX_CONFIG_BYTES) return false; // refused as too large by the parser
  for (const lexeme of new Lexer().lex(raw)) {
    const type = CST.tokenType(lexeme);
    if (type && DROPS_TEXT.has(type)) return true;
  }
  return false;
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
  if (config !== undefined && !isPlainObject(config)) {
    throw new ConfigError(`${source}: the top level must be a mapping`, [rootIssue(config)]);
  }
  const root: Record<string, unknown> = config === undefined ? {} : structuredClone(config);
  const origins: EnvOrigin[] = [];
  const issues: ConfigIssue[] = [];
  const names = Object.keys(env)
    .filter((name) => name.startsWith(prefix) && env[name] !== undefined)
    .sort();
  for (const name of names) {
    const raw = env[name]!;
    const segments = name.slice(prefix.length).split('__');
    const path = segments.map((s) => s.toLowerCase());
    if (path.some((s) => s === '')) {
      issues.push({
        path: name,
        expected: `${prefix}SECTION__FIELD, each part non-empty (\`__\` separates two parts)`,
        received: 'an empty part',
        message: `environment variable ${name}: ${segments.length === 1 ? 'names no field' : 'has an empty part between two `__`'}`,
      });
      continue;
    }
    if (path.some((s) => RESERVED_KEYS.has(s))) {
      issues.push({
        path: name,
        expected: 'config keys',
        received: 'a reserved name',
        message: `environment variable ${name}: names a reserved key, not a config key`,
      });
      continue;
    }
    let value: unknown;
    if (yamlDropsText(raw)) value = raw;
    else {
      try {
        value = parseText(raw, 'yaml', { source, at: path, env: name });
      } catch (err) {
        if (!(err instanceof ConfigError && syntaxProblems.has(err))) throw err;
        value = raw;
      }
    }
    let node = root;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i]!;
      if (!isPlainObject(node[seg])) {
        // A mapping the variable created (or put in place of another value) comes from it.
        origins.push({ path: path.slice(0, i + 1), name, prefix, target: path });
        node[seg] = {};
      }
      node = node[seg] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value ?? raw;
    const origin: EnvOrigin = { path, name, prefix, target: path };
    envText.set(origin, raw);
    origins.push(origin);
  }
  if (issues.length > 0) {
    throw new ConfigError(`${source}: ${issues.length} malformed environment override name(s)`, issues);
  }
  return { value: root, origins };
}
