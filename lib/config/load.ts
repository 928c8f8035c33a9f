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
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import * as v from 'valibot';
import {
  Composer,
  CST,
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  Parser,
} from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';

/** Largest config file, or environment override value, in bytes (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Deepest nesting of mappings and lists (the schema itself needs 5). */
export const MAX_CONFIG_DEPTH = 32;
/** Most values (scalars, mappings, lists) in a config once YAML aliases are expanded. */
export const MAX_CONFIG_VALUES = 100_000;
/** Most issues listed in one error; the message says how many there were in all. */
const MAX_ISSUES = 100;

/** Field names whose values are never echoed in errors. */
const SECRET =
  /pass(word|wd|phrase)?|secret|token|credential|auth|cookie|api[-_]?key|private[-_]?key|(^|[-_])key$/i;

/** True for field names like `password`, `api_key`, `x-api-key`, `authorization`; not `key_prefix`. */
export function isSecretField(name: string): boolean {
  return SECRET.test(name);
}

/** Names a YAML or JSON key may not have (they would reach the prototype of the parsed objects). */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type ConfigFormat = 'yaml' | 'json';

/** A key as shown in messages: a name part at most; what follows it may be a value run into the key. */
function displayKey(key: string): string {
  const name = /^[\w.\-/@]*/.exec(key)![0];
  if (name.length === key.length && key.length <= 64) return key;
  return `${name.slice(0, 64)}…`;
}

/**
 * `a.b.c` for people, with every segment below a secret-named one hidden, and keys that are not
 * plain names cut after their name part (`password:hunter2` as a key, a typo for
 * `password: hunter2`, shows as `password…`).
 */
export function displayPath(segments: readonly string[]): string {
  const i = segments.findIndex((s) => isSecretField(s));
  const shown = i < 0 ? segments : [...segments.slice(0, i + 1), ...segments.slice(i + 1).map(() => '…')];
  return shown.map(displayKey).join('.');
}

const isSecretPath = (segments: readonly string[]) => segments.some((s) => isSecretField(s));

const issue = (
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

// ---------------------------------------------------------------------------------------------
// Parsing

/** What went wrong, in our words: the parser's own messages quote the source. */
const YAML_PROBLEMS: Record<string, string> = {
  BAD_INDENT: 'the indentation does not line up',
  TAB_AS_INDENT: 'a tab is used for indentation (use spaces)',
  MISSING_CHAR: 'a closing quote, bracket or brace is missing',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines',
  BLOCK_AS_IMPLICIT_KEY: 'a nested block is used as a key',
  KEY_OVER_1024_CHARS: 'a key is longer than 1024 characters',
  DUPLICATE_KEY: 'a key appears twice in the same mapping',
  BAD_ALIAS: 'an alias (*name) or anchor (&name) is malformed',
  ALIAS_PROPS: 'an alias (*name) has a tag or anchor',
  MULTIPLE_ANCHORS: 'a value has more than one anchor',
  MULTIPLE_TAGS: 'a value has more than one tag',
  BAD_DQ_ESCAPE: 'a double-quoted string has an invalid escape',
  BAD_SCALAR_START: 'a value starts with a reserved character (quote it)',
  BAD_DIRECTIVE: 'a %directive is malformed',
  BAD_COLLECTION_TYPE: 'a tag does not fit its mapping or list',
  BLOCK_IN_FLOW: 'a block value appears inside [ ] or { }',
  TAG_RESOLVE_FAILED: 'a tag (!name) is unknown or does not fit its value',
  UNEXPECTED_TOKEN: 'unexpected text',
  MISSING_ANCHOR: 'an alias (*name) refers to an anchor that is not defined before it',
  RESOURCE_EXHAUSTION: `the document is nested too deeply`,
};

/** The tags a config may use: YAML's core schema, and `!` (plain text). */
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`).concat('!'),
);

interface ParseContext {
  /** `app.yaml`, or the environment variable an override value came from. */
  source: string;
  /** Config path of the parsed value (non-empty for environment values). */
  at: readonly string[];
  /** Environment values: the name of the variable, for messages. */
  env?: string;
}

function where(ctx: ParseContext): string {
  return ctx.env ? `environment variable ${ctx.env}` : ctx.source;
}

function tooLarge(ctx: ParseContext, what: string): ConfigError {
  return new ConfigError(`${where(ctx)}: ${what}`);
}

/** Parse failures an environment value may fall back from (it is then read as plain text). */
const syntaxProblems = new WeakSet<ConfigError>();

function syntaxProblem(message: string, cause?: string): ConfigError {
  const err = new ConfigError(message, [], cause ? { cause: new Error(cause) } : undefined);
  syntaxProblems.add(err);
  return err;
}

/**
 * Parses config text. Returns `undefined` for an empty document (nothing but whitespace and
 * comments), the parsed value otherwise. Throws `ConfigError` for syntax errors, unknown tags,
 * duplicate keys, reserved key names, several documents, and inputs over the size, depth or value
 * limits; the messages carry positions and paths, never source text.
 */
export function parseConfigText(text: string, format: ConfigFormat, source = 'config'): unknown {
  return parseText(text, format, { source, at: [] });
}

function parseText(text: string, format: ConfigFormat, ctx: ParseContext): unknown {
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw tooLarge(ctx, `larger than ${MAX_CONFIG_BYTES} bytes (the limit for a config)`);
  }
  const value = format === 'json' ? parseJson(text, ctx) : parseYamlText(text, ctx);
  if (value !== undefined) checkTree(value, ctx);
  return value;
}

function parseJson(text: string, ctx: ParseContext): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's messages quote the text around the error: keep only the position, when there is one.
    const offset = /position (\d+)/.exec(String((err as Error)?.message))?.[1];
    let at = '';
    if (offset !== undefined) {
      const before = text.slice(0, Number(offset));
      const line = before.split('\n').length;
      at = ` at line ${line}, column ${Number(offset) - before.lastIndexOf('\n')}`;
    }
    throw syntaxProblem(`${where(ctx)}: not valid JSON${at}`, 'JSON syntax error');
  }
}

function parseYamlText(text: string, ctx: ParseContext): unknown {
  const lines = new LineCounter();
  const tokens = lexAndParse(text, lines, ctx);
  const budget = { values: MAX_CONFIG_VALUES };
  for (const token of tokens) checkCst(token, lines, ctx, budget);
  const docs: Document.Parsed[] = [];
  const composer = new Composer({ uniqueKeys: false, logLevel: 'silent', prettyErrors: false });
  for (const doc of composer.compose(tokens, true, text.length)) docs.push(doc);
  const doc = docs[0]!;
  const position = (offset: number) => {
    const p = lines.linePos(offset);
    return `line ${p.line}, column ${p.col}`;
  };
  if (docs.length > 1) {
    throw syntaxProblem(
      `${where(ctx)}: holds more than one YAML document (a second one starts at ${position(docs[1]!.range[0])}); a config is one document`,
    );
  }
  // Syntax errors first, by position only: in a broken document a value may have become a key,
  // and keys are shown in paths. Then unknown tags and duplicate keys, with their paths; then the
  // parser's remaining warnings, by position.
  const report = (problems: readonly { code: string; pos: [number, number] }[]) => {
    const first = problems[0]!;
    const what = YAML_PROBLEMS[first.code] ?? `YAML error ${first.code}`;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    return syntaxProblem(
      `${where(ctx)}: not valid YAML at ${position(first.pos[0])}: ${what}${more}`,
      `YAML ${first.code}`,
    );
  };
  if (doc.errors.length > 0) throw report(doc.errors);
  // YAML 1.1 reads `yes`, dates and `<<` merges differently; a config is read one way only.
  if (doc.directives?.yaml.version !== '1.2') {
    throw syntaxProblem(
      `${where(ctx)}: only YAML 1.2 is supported (remove the %YAML ${doc.directives?.yaml.version} line)`,
    );
  }
  const found = walkDocument(doc, ctx);
  if (found.length > 0) {
    throw new ConfigError(
      `${where(ctx)}: ${found.length} problem(s) in the YAML`,
      found.slice(0, MAX_ISSUES),
    );
  }
  if (doc.warnings.length > 0) throw report(doc.warnings);
  if (doc.contents === null) return undefined;
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const excessive = /excessive alias/i.test(String((err as Error)?.message));
    throw new ConfigError(
      `${where(ctx)}: ${excessive ? 'YAML aliases (*name) expand too often (more than 100 uses)' : YAML_PROBLEMS.MISSING_ANCHOR}`,
      [],
      { cause: new Error(excessive ? 'YAML alias count' : 'YAML alias') },
    );
  }
}

/**
 * Lexes and parses to the CST, refusing flow collections (`[`, `{`) nested deeper than the limit
 * as soon as they are seen: the parser slows down on deep flow nesting, and the composer after it
 * recurses once per level.
 */
function lexAndParse(text: string, lines: LineCounter, ctx: ParseContext): CST.Token[] {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  const tokens: CST.Token[] = [];
  let depth = 0;
  let scalarNext = false;
  // The parser prints every token when LOG_TOKENS is set; a config may hold secrets.
  const logTokens = process.env.LOG_TOKENS;
  if (logTokens !== undefined) delete process.env.LOG_TOKENS;
  try {
    for (const lexeme of new Lexer().lex(text)) {
      if (scalarNext) scalarNext = false;
      else if (lexeme === CST.SCALAR) scalarNext = true;
      else if (lexeme === '[' || lexeme === '{') {
        if (++depth > MAX_CONFIG_DEPTH) throw tooDeep(ctx, `line ${lines.lineStarts.length}`);
      } else if (lexeme === ']' || lexeme === '}') depth = Math.max(0, depth - 1);
      for (const token of parser.next(lexeme)) tokens.push(token);
    }
    for (const token of parser.end()) tokens.push(token);
  } finally {
    if (logTokens !== undefined) process.env.LOG_TOKENS = logTokens;
  }
  return tokens;
}

function tooMany(ctx: ParseContext): ConfigError {
  return new ConfigError(
    `${where(ctx)}: holds more than ${MAX_CONFIG_VALUES} values (counting YAML aliases as copies; the limit for a config)`,
  );
}

function tooDeep(ctx: ParseContext, at: string): ConfigError {
  return new ConfigError(
    `${where(ctx)}: nested more than ${MAX_CONFIG_DEPTH} levels deep at ${at} (the limit for a config)`,
  );
}

/**
 * Block nesting and the number of values, measured on the CST without recursion, before the
 * (recursive) composer runs.
 */
function checkCst(root: CST.Token, lines: LineCounter, ctx: ParseContext, budget: { values: number }): void {
  // [token, depth, whether it is a key (keys are not values of the config)]
  const stack: [CST.Token, number, boolean][] = [[root, 0, false]];
  while (stack.length > 0) {
    const [token, depth, isKey] = stack.pop()!;
    if (!isKey && token.type !== 'document' && --budget.values < 0) throw tooMany(ctx);
    if (token.type === 'document') {
      if (token.value) stack.push([token.value, depth, false]);
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')
      continue;
    if (depth + 1 > MAX_CONFIG_DEPTH) {
      const p = lines.linePos(token.offset);
      throw tooDeep(ctx, `line ${p.line}`);
    }
    for (const item of token.items as { key?: CST.Token | null; value?: CST.Token | null }[]) {
      if (item.key) stack.push([item.key, depth + 1, true]);
      if (item.value) stack.push([item.value, depth + 1, false]);
    }
  }
}

/** Unknown tags, duplicate keys, keys that are not plain names, reserved key names; with paths. */
function walkDocument(doc: Document.Parsed, ctx: ParseContext): ConfigIssue[] {
  const found: ConfigIssue[] = [];
  const stack: [unknown, string[]][] = [[doc.contents, [...ctx.at]]];
  while (stack.length > 0 && found.length <= MAX_ISSUES) {
    const [node, path] = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    const tag = (node as { tag?: string }).tag;
    if (tag !== undefined && !CORE_TAGS.has(tag)) {
      // A tag on a secret field is not shown: it sits right next to the value.
      const shown = isSecretPath(path) ? 'a YAML tag' : `the YAML tag \`${tag.slice(0, 40)}\``;
      found.push(
        issue(
          path,
          `uses ${shown}, which is not supported`,
          'a plain value (only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are known tags)',
          'a tagged value',
        ),
      );
    }
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        if (!isScalar(key) || (key.value !== null && typeof key.value === 'object')) {
          found.push(
            issue(
              path,
              'has a key that is a list, mapping or alias',
              'keys that are plain names',
              'a complex key',
            ),
          );
          continue;
        }
        const name = String(key.value ?? '');
        const at = [...path, name];
        if (seen.has(name)) {
          found.push(issue(at, 'appears twice in the same mapping', 'each key once', 'a duplicate key'));
        }
        seen.add(name);
        if (key.tag !== undefined && !CORE_TAGS.has(key.tag)) stack.push([key, at]);
        stack.push([pair.value, at]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        stack.push([item, [...path, String(i)]]);
      });
    }
  }
  return found;
}

/**
 * Depth, size and key names of the parsed value, walked as a tree (aliases expanded) with a budget,
 * so a document whose aliases multiply it is refused before anything else walks it.
 */
function checkTree(root: unknown, ctx: ParseContext): void {
  let values = 0;
  const stack: [unknown, string[]][] = [[root, [...ctx.at]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (++values > MAX_CONFIG_VALUES) throw tooMany(ctx);
    if (typeof node !== 'object' || node === null) continue;
    if (path.length - ctx.at.length >= MAX_CONFIG_DEPTH) throw tooDeep(ctx, displayPath(path));
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...path, String(i)]]);
    } else if (Object.getPrototypeOf(node) === Object.prototype || Object.getPrototypeOf(node) === null) {
      for (const key of Object.keys(node)) {
        if (RESERVED_KEYS.has(key)) {
          throw new ConfigError(`${where(ctx)}: 1 invalid field(s)`, [
            issue([...path, key], 'is a reserved name, not a config key', 'a config key', 'a reserved name'),
          ]);
        }
        stack.push([(node as Record<string, unknown>)[key], [...path, key]]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Environment overrides

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
 * Environment overrides: `PREFIX` + path segments joined by `__`, upper-cased. With the default
 * prefix `HYPERION__`, `HYPERION__TRACING__SAMPLE_RATE=0.5` sets `tracing.sample_rate`. Values are
 * read as YAML scalars/flow collections, so `true`, `0.5`, `[a, b]` and `{k: v}` keep their types;
 * a value that is not valid YAML, or is empty or null, is taken as plain text. A name with an
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
    try {
      value = parseText(raw, 'yaml', { source, at: path, env: name });
    } catch (err) {
      if (!(err instanceof ConfigError && syntaxProblems.has(err))) throw err;
      value = raw;
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
    origins.push({ path, name, prefix, target: path });
  }
  if (issues.length > 0) {
    throw new ConfigError(`${source}: ${issues.length} malformed environment override name(s)`, issues);
  }
  return { value: root, origins };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function rootIssue(value: unknown): ConfigIssue {
  return {
    path: '',
    expected: 'a mapping of sections (service, logging, tracing, cache, metrics)',
    received: describeType(value),
    message: 'must be a mapping of sections such as `tracing:` and `cache:`',
  };
}

// ---------------------------------------------------------------------------------------------
// Validation messages

/** The type of a value in plain words, never the value itself. */
export function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : 'a number';
  if (typeof value === 'boolean') return 'true/false';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/** Why a check failed, in plain words (what the field accepts is in `expected`). */
function reason(i: v.BaseIssue<unknown>, raw: unknown): string {
  if (i.kind === 'schema') {
    if (raw === undefined) return 'is required';
    if ((i.type === 'picklist' || i.type === 'literal') && typeof raw !== 'object')
      return 'is not one of the accepted values';
    return 'has the wrong type';
  }
  switch (i.type) {
    case 'integer':
      return 'is not a whole number';
    case 'min_value':
    case 'gt_value':
      return 'is too small';
    case 'max_value':
    case 'lt_value':
      return 'is too large';
    case 'min_length':
      return Array.isArray(raw) ? 'has too few items' : 'is too short';
    case 'max_length':
      return Array.isArray(raw) ? 'has too many items' : 'is too long';
    case 'finite':
      return 'is not a finite number';
    default:
      return 'is not in an accepted form';
  }
}

/** Plain words for what a valibot schema expects, for schemas that carry no message of ours. */
function plainExpected(i: v.BaseIssue<unknown>): string {
  const r = i.requirement;
  switch (i.type) {
    case 'min_value':
      return `a value of at least ${String(r)}`;
    case 'max_value':
      return `a value of at most ${String(r)}`;
    case 'gt_value':
      return `a value above ${String(r)}`;
    case 'lt_value':
      return `a value below ${String(r)}`;
    case 'integer':
      return 'a whole number';
    case 'finite':
      return 'a finite number';
    case 'min_length':
      return `at least ${String(r)} item(s) or character(s)`;
    case 'max_length':
      return `at most ${String(r)} item(s) or character(s)`;
  }
  const words: Record<string, string> = {
    number: 'a number',
    string: 'text',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping',
    strict_object: 'a mapping',
    record: 'a mapping',
  };
  return words[i.type] ?? (i.type === 'literal' || i.type === 'picklist' ? `${i.expected}` : 'a valid value');
}

function lookup(root: unknown, segments: readonly string[]): unknown {
  let node = root;
  for (const s of segments) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[s];
  }
  return node;
}

/**
 * Converts valibot issues to `ConfigIssue`s: `expected` says what the field accepts, `message`
 * why it failed (or the rule it broke), `received` the type found. No value is ever included, and
 * nothing below a secret-named field. With `input`, the received type is the one in the input
 * (before transformations such as "5s" → 5000); with `origins`, issues caused by an environment
 * override name the variable.
 */
export function toConfigIssues(
  issues: readonly v.BaseIssue<unknown>[],
  input?: unknown,
  origins: readonly EnvOrigin[] = [],
): ConfigIssue[] {
  return issues.map((i) => {
    const segments = (i.path ?? []).map((p) => String(p.key));
    const raw = input === undefined ? i.input : lookup(input, segments);
    let message: string;
    let expected: string;
    // valibot's own `received` quotes string values: never used.
    let received = describeType(raw);
    const ours = !i.message.startsWith('Invalid ');
    if (i.type === 'raw_check') {
      message = i.message;
      expected = i.expected ?? '';
      if (message.startsWith(UNKNOWN_FIELD)) received = 'an unknown field';
    } else if (i.type === 'strict_object' && i.expected === 'never') {
      // A plain valibot strictObject (a caller's own schema): it names the first unknown key.
      message = UNKNOWN_FIELD;
      expected = 'a known field';
      received = 'an unknown field';
    } else {
      expected = ours ? i.message : plainExpected(i);
      message = reason(i, raw);
    }
    const origin = findOrigin(origins, segments);
    if (origin) {
      // A suggested key, spelled as the variable to set instead.
      const hint = /did you mean `([^`]+)`\?$/.exec(message)?.[1];
      if (hint !== undefined && i.type === 'raw_check') {
        const fixed = [...origin.target];
        fixed[segments.length - 1] = hint;
        message = `${message.slice(0, -1)} (${origin.prefix}${fixed.join('__').toUpperCase()})?`;
      }
      message += ` (set by environment variable ${origin.name})`;
    }
    return { path: displayPath(segments), expected, received, message };
  });
}

const UNKNOWN_FIELD = 'is not a known field';

function findOrigin(origins: readonly EnvOrigin[], segments: readonly string[]): EnvOrigin | undefined {
  let best: EnvOrigin | undefined;
  for (const o of origins) {
    if (o.path.length > segments.length || (best && best.path.length >= o.path.length)) continue;
    if (o.path.every((s, k) => s === segments[k])) best = o;
  }
  return best;
}

/** Validates `input` against `schema`, throwing one ConfigError listing every bad field. */
export function validateConfig<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  source = 'config',
  origins: readonly EnvOrigin[] = [],
): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: false });
  if (result.success) return result.output;
  const flat = flattenUnionIssues(result.issues);
  const issues = toConfigIssues(flat.slice(0, MAX_ISSUES), input, origins);
  const fromEnv = issues.filter((i) => i.message.includes('(set by environment variable ')).length;
  const count =
    flat.length > MAX_ISSUES
      ? `${flat.length} invalid field(s), the first ${MAX_ISSUES} listed`
      : `${flat.length} invalid field(s)`;
  throw new ConfigError(
    `${source}: ${count}${fromEnv ? ` (${fromEnv} from environment variables)` : ''}`,
    issues,
  );
}

// A failed union says "no branch matched". When a branch accepted the container and failed
// deeper (e.g. `tls: {ca: 1}`), or accepted the type and failed a check, those issues are the
// useful ones; otherwise the union itself (with its "accepts" wording) is. Then one issue per path.
function flattenUnionIssues(issues: readonly v.BaseIssue<unknown>[]): v.BaseIssue<unknown>[] {
  const flat = issues.flatMap((i) => {
    if ((i.type === 'union' || i.type === 'variant') && i.issues?.length) {
      // Branch issues have paths relative to the union's value.
      const prefix = i.path ?? [];
      const rebased = i.issues.map(
        (s) => ({ ...s, path: [...prefix, ...(s.path ?? [])] }) as v.BaseIssue<unknown>,
      );
      const deeper = rebased.filter((s) => (s.path?.length ?? 0) > prefix.length);
      if (deeper.length > 0) return flattenUnionIssues(deeper);
      const checks = rebased.filter((s) => s.kind === 'validation');
      if (checks.length > 0) return flattenUnionIssues(checks);
    }
    return [i];
  });
  const seen = new Set<string>();
  return flat.filter((i) => {
    const key = (i.path ?? []).map((p) => String(p.key)).join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Files

export interface LoadOptions {
  /** Environment to read overrides from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Override prefix. Default `HYPERION__`. */
  envPrefix?: string;
  /** Format; inferred from the extension (`.json` → JSON, anything else → YAML). */
  format?: ConfigFormat;
}

/** Reads at most `MAX_CONFIG_BYTES + 1` bytes, so a huge file (or a device) is never read whole. */
async function readLimited(path: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      [],
      { cause: err },
    );
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

/**
 * The checks a parsed config gets besides its schema: a mapping (or `undefined`, all defaults),
 * within the depth and size limits, without reserved key names.
 */
export function checkParsed(raw: unknown, source = 'config'): void {
  if (raw === undefined) return;
  if (!isPlainObject(raw))
    throw new ConfigError(`${source}: the top level must be a mapping`, [rootIssue(raw)]);
  checkTree(raw, { source, at: [] });
}

/**
 * Parses config text, applies the environment overrides and validates, as `loadConfigFile` does
 * for a file. An empty document (only whitespace or comments) means "all defaults"; any other
 * document must be a mapping.
 */
export function loadConfigText<S extends v.GenericSchema>(
  text: string,
  schema: S | ((raw: unknown) => S),
  options: LoadOptions & { source?: string } = {},
): v.InferOutput<S> {
  const source = options.source ?? 'config';
  const raw = parseText(text, options.format ?? 'yaml', { source, at: [] });
  if (raw !== undefined && !isPlainObject(raw)) {
    throw new ConfigError(`${source}: the top level must be a mapping`, [rootIssue(raw)]);
  }
  const { value, origins } = mergeEnvOverrides(raw, options.env ?? process.env, options.envPrefix, source);
  return validateConfig(typeof schema === 'function' ? schema(value) : schema, value, source, origins);
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
  const bytes = await readLimited(path);
  const format = options.format ?? (extname(path).toLowerCase() === '.json' ? 'json' : 'yaml');
  return loadConfigText(bytes.toString('utf8'), schema, { ...options, format, source: path });
}
