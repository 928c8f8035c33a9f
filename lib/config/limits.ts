/**
 * Size, depth and value-count limits of a config, and the context parse errors name (a file, or
 * the environment variable an override came from). Depth and value counts are measured on the
 * YAML CST before the (recursive) composer runs, and again on the parsed tree (aliases expanded).
 */
import { CST, Lexer, type LineCounter, Parser } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { displayPath, type Found, issue } from './messages.js';

/** Largest config file, or environment override value, in bytes (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Deepest nesting of mappings and lists (the schema itself needs 5). */
export const MAX_CONFIG_DEPTH = 32;
/** Most values (scalars, mappings, lists) in a config once YAML aliases are expanded. */
export const MAX_CONFIG_VALUES = 100_000;
/**
 * Most alias uses (`*name`) in one document, as the README states. The YAML library's own guard
 * counts per anchor and counts the anchor itself, so 100 uses of one anchor were refused while
 * 20 anchors used 99 times each (1,980 uses) passed; expansion stays bounded by MAX_CONFIG_VALUES.
 */
export const MAX_CONFIG_ALIASES = 100;
/** Most issues listed in one error; the message says how many there were in all. */
export const MAX_ISSUES = 100;

/**
 * Names a YAML or JSON key may not have: the first three would reach the prototype of the parsed
 * objects; `toJSON` is how each mapping of a loaded config prints redacted (`JSON.stringify`), so
 * an attribute, header or label of that name was replaced by a function without a word (and the
 * loaded config then failed `createAppFromConfig`'s check, "received function").
 */
export const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype', 'toJSON']);

export interface ParseContext {
  /** `app.yaml`, or the environment variable an override value came from. */
  source: string;
  /** Config path of the parsed value (non-empty for environment values). */
  at: readonly string[];
  /** Environment values: the name of the variable, for messages. */
  env?: string | undefined;
  /** The prefix of environment overrides, for messages naming the variable to use. Default `HYPERION__`. */
  envPrefix?: string | undefined;
}

export function where(ctx: ParseContext): string {
  return ctx.env ? `environment variable ${ctx.env}` : ctx.source;
}

export function tooLarge(ctx: ParseContext, what: string): ConfigError {
  return new ConfigError(`${where(ctx)}: ${what}`);
}

/**
 * Lexes and parses to the CST, refusing flow collections (`[`, `{`) nested deeper than the limit
 * as soon as they are seen: the parser slows down on deep flow nesting, and the composer after it
 * recurses once per level.
 */
export function lexAndParse(text: string, lines: LineCounter, ctx: ParseContext): CST.Token[] {
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

export function tooDeep(ctx: ParseContext, at: string): ConfigError {
  return new ConfigError(
    `${where(ctx)}: nested more than ${MAX_CONFIG_DEPTH} levels deep at ${at} (the limit for a config)`,
  );
}

/** CST tokens that are values of the config (the stream's other tokens are layout). */
const VALUE_TOKENS = new Set<string>([
  'alias',
  'scalar',
  'single-quoted-scalar',
  'double-quoted-scalar',
  'block-scalar',
  'block-map',
  'block-seq',
  'flow-collection',
]);

/**
 * Block nesting and the number of values, measured on the CST without recursion, before the
 * (recursive) composer runs.
 */
export function checkCst(
  root: CST.Token,
  lines: LineCounter,
  ctx: ParseContext,
  budget: { values: number; aliases: number },
): void {
  // [token, depth, whether it is a key (keys are not values of the config)]
  const stack: [CST.Token, number, boolean][] = [[root, 0, false]];
  while (stack.length > 0) {
    const [token, depth, isKey] = stack.pop()!;
    // Only values count: blank lines, comments, directives and document markers around the
    // document are tokens of the stream too (an "empty" file of 100 001 blank lines is empty).
    if (!isKey && VALUE_TOKENS.has(token.type) && --budget.values < 0) throw tooMany(ctx);
    if (token.type === 'alias' && --budget.aliases < 0)
      throw new ConfigError(
        `${where(ctx)}: uses YAML aliases (*name) more than ${MAX_CONFIG_ALIASES} times (the limit for a config)`,
      );
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

/**
 * Depth, size and key names of the parsed value, walked as a tree (aliases expanded) with a budget,
 * so a document whose aliases multiply it is refused before anything else walks it. A reserved
 * key name (`__proto__`, `constructor`, `prototype`) is an issue in `found`, and the key is removed
 * (unless `prune` is false: an object the caller passed in is never changed).
 */
export function checkTree(root: unknown, ctx: ParseContext, found: Found, prune = true): void {
  let values = 0;
  const stack: [unknown, string[]][] = [[root, [...ctx.at]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (++values > MAX_CONFIG_VALUES) throw tooMany(ctx);
    if (typeof node !== 'object' || node === null) continue;
    if (path.length - ctx.at.length >= MAX_CONFIG_DEPTH) throw tooDeep(ctx, displayPath(path));
    // The children are counted before they are stacked (each with its path): an object given to
    // parseConfig or createAppFromConfig holding a list of 5,000,000 items took 5 s and 1.8 GB
    // before being refused, and one of length 1e9 (sparse) ran out of memory.
    if (Array.isArray(node)) {
      if (values + stack.length + node.length > MAX_CONFIG_VALUES) throw tooMany(ctx);
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...path, String(i)]]);
    } else if (node instanceof Map || node instanceof Set) {
      // The schema reads an object's own properties, and a Map or Set has none: the settings in
      // it were dropped without a word (the section, or the whole config, got its defaults).
      const kind = node instanceof Map ? 'a Map' : 'a Set';
      found.issues.push(
        issue(
          path,
          `is ${kind}, whose entries a config does not read`,
          node instanceof Map ? 'a plain object (Object.fromEntries(map))' : 'a list (an array)',
          kind,
        ),
      );
      found.blocked.push(path);
    } else if (Object.getPrototypeOf(node) === Object.prototype || Object.getPrototypeOf(node) === null) {
      const keys = Object.keys(node);
      let count = keys.length;
      for (const reserved of RESERVED_KEYS) if (Object.hasOwn(node, reserved)) count--;
      if (values + stack.length + count > MAX_CONFIG_VALUES) throw tooMany(ctx);
      const children: [unknown, string[]][] = [];
      for (const key of keys) {
        if (RESERVED_KEYS.has(key)) {
          found.issues.push(
            issue([...path, key], 'is a reserved name, not a config key', 'a config key', 'a reserved name'),
          );
          found.blocked.push([...path, key]);
          if (prune) delete (node as Record<string, unknown>)[key];
          continue;
        }
        children.push([(node as Record<string, unknown>)[key], [...path, key]]);
      }
      // Last key first on the stack, so the issues deeper down come in the file's order.
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }
}

/** `${NAME}`, `${NAME:-default}`…: a shell or Compose placeholder, which a config file does not expand. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder as messages show it
const SHOWN = '${…}';
/** `${NAME` and what follows it: `}`, or an operator (`:-`, `?`, `+`, `=`, `-`) of a default or a check. */
const PLACEHOLDER_HEAD = /\$\{[A-Za-z_][A-Za-z0-9_]*([:?+=-]|\})?/g;

/**
 * Whether `text` holds `${NAME}` or `${NAME<op>…}` (the pattern `\$\{NAME(?:[:?+=-][^}]*)?\}`).
 * Not that regular expression itself: tried from every `${`, its `[^}]*` ran to the end of the
 * text each time, so a value of many `${a:` and no `}` took time quadratic in its length (1 MiB:
 * minutes). An operator only needs a `}` somewhere after it.
 */
function hasPlaceholder(text: string): boolean {
  const lastBrace = text.lastIndexOf('}');
  if (lastBrace === -1) return false;
  for (const m of text.matchAll(PLACEHOLDER_HEAD)) {
    if (m[1] === '}') return true;
    if (m[1] !== undefined && lastBrace > m.index + m[0].length - 1) return true;
  }
  return false;
}

/**
 * Text values of a file holding a `${NAME}` placeholder: nothing substitutes them, so the literal
 * text would become the password, header or key prefix without a word. Each is an issue in
 * `found` (its path only, never the value). Values set by environment variables are not checked:
 * they are the way to give such a field its value (and the way to pass text that holds `${`).
 */
export function checkPlaceholders(root: unknown, ctx: ParseContext, found: Found): void {
  const stack: [unknown, string[]][] = [[root, [...ctx.at]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === 'string') {
      if (hasPlaceholder(node)) {
        // The variable to use instead, when a shell can set it (plain names, nothing hidden); an
        // item of a list is set with the whole list.
        const item = path.findIndex((k) => /^\d+$/.test(k));
        const field = item === -1 ? path : path.slice(0, item);
        const prefix = ctx.envPrefix ?? 'HYPERION__';
        // A header's variable replaces the header in any case of its name (`replaceHeaderName`
        // in env.ts): `Authorization:` is set by HYPERION__TRACING__HEADERS__AUTHORIZATION as
        // `authorization:` is, but got the generic hint for its capital letter.
        const header = field.length === 3 && field[0] === 'tracing' && field[1] === 'headers';
        const named =
          displayPath(path) === path.join('.') &&
          field.every((k, i) => /^[a-z][a-z\d_]*$/.test(header && i === 2 ? k.toLowerCase() : k))
            ? `${prefix}${field.join('__').toUpperCase()}${item === -1 ? '' : ' (the whole list)'}`
            : `${prefix} + the path in upper case, joined by __`;
        found.issues.push(
          issue(
            path,
            `holds a ${SHOWN} placeholder, but environment variables are not substituted in config files`,
            `the value itself, or the field set by the environment variable ${named}`,
            `text with a ${SHOWN} placeholder`,
          ),
        );
        found.blocked.push(path);
      }
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...path, String(i)]]);
    } else if (typeof node === 'object' && node !== null) {
      // Pushed last key first, so the issues come in the file's order (they came last key first).
      const children: [unknown, string[]][] = [];
      for (const [key, value] of Object.entries(node)) {
        // A key is no more substituted than a value: an attribute written `${ATTR}: x` loaded as
        // the attribute named "${ATTR}" (a header or label name was refused, as a bad name).
        if (hasPlaceholder(key)) {
          found.issues.push(
            issue(
              [...path, key],
              `is a key holding a ${SHOWN} placeholder, but environment variables are not substituted in config files`,
              'the key written out (environment variables set values, not keys)',
              `a key with a ${SHOWN} placeholder`,
            ),
          );
          found.blocked.push([...path, key]);
        } else children.push([value, [...path, key]]);
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }
}
