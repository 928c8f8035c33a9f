/**
 * Parsing config text (YAML or JSON). The YAML parser never prints: its warnings and errors become
 * `ConfigError`s carrying only a line, a column and our own wording (its messages quote the
 * source, which may hold a secret).
 */
import { Composer, type Document, LineCounter } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import {
  checkCst,
  checkPlaceholders,
  checkTree,
  lexAndParse,
  MAX_CONFIG_ALIASES,
  MAX_CONFIG_BYTES,
  MAX_CONFIG_DEPTH,
  MAX_CONFIG_VALUES,
  MAX_ISSUES,
  type ParseContext,
  tooDeep,
  tooLarge,
  where,
} from './limits.js';
import { type Found, issue, newFound } from './messages.js';
import { checkDocument } from './tags.js';

export type ConfigFormat = 'yaml' | 'json';
/** What went wrong, in our words: the parser's own messages quote the source. */
const YAML_PROBLEMS: Record<string, string> = {
  BAD_INDENT: 'the indentation does not line up',
  TAB_AS_INDENT: 'a tab is used for indentation (use spaces)',
  MISSING_CHAR:
    'a character the YAML syntax needs is missing (a `: ` after a key, a closing quote, bracket or brace…)',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines',
  // The parser's "nested mappings are not allowed in compact mappings": a `: ` inside a value
  // written on its key's line (`password: a: b`, `headers: authorization: Bearer …`), or a line
  // indented deeper than the `key: value` line above it. Nothing is used as a key there.
  BLOCK_AS_IMPLICIT_KEY:
    'a value written after its key holds a `: ` (quote the value) or is followed by a line indented deeper than its key',
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
/**
 * MISSING_CHAR is the parser's code for several different mistakes; its message (fixed text that
 * never quotes the source, matched here and never shown) tells which. All of them were reported
 * as a missing closing quote, bracket or brace — also the most common one, a line of a mapping
 * without `: ` (`port 6379`, `password:hunter2`), which has neither.
 */
const MISSING_CHAR_PROBLEMS: readonly (readonly [RegExp, string])[] = [
  [
    /^Implicit map keys need to be followed by map values/,
    'a line in a mapping is not `key: value` (a `:` followed by a space is missing after the key)',
  ],
  [/^Missing closing .quote/, 'a closing quote is missing'],
  [/must end with a/, 'a closing bracket or brace is missing'],
  [/^Missing , (or : )?between/, 'a `,` is missing between two items inside [ ] or { }'],
  [/^Missing space after :/, 'a space is missing after a `:` inside { }'],
  [/^Sequence item without - indicator/, 'a list item has no `- ` in front of it'],
  [/^Comments must be separated/, 'a # comment does not follow a space'],
  [/^Tags and anchors must be separated/, 'a tag (!name) or anchor (&name) is not followed by a space'],
  [/directives-end|doc-start/, 'the `---` line after a %directive is missing'],
];

/**
 * An unclosed `[` or `{` inside a block mapping (`addresses: [a:6379, b:6379` without its `]`) is
 * BAD_INDENT to the parser, as is a continuation line of one not indented deeper than its key: it
 * was reported as "the indentation does not line up" alone, the missing bracket never named.
 */
const BAD_INDENT_PROBLEMS: readonly (readonly [RegExp, string])[] = [
  [
    /sufficiently indented and end with a/,
    'a closing bracket or brace is missing, or a line inside [ ] or { } is indented no deeper than its key',
  ],
];

/**
 * UNEXPECTED_TOKEN ("unexpected text" alone) is mostly text after a value that has ended: a quote
 * inside a quoted value (`password: 'it's'`, `name: "a "b""`), or text after a `]` or `}`.
 */
const UNEXPECTED_TOKEN_PROBLEMS: readonly (readonly [RegExp, string])[] = [
  [
    /^Unexpected scalar at node end/,
    "text follows a value that has ended: after its closing quote, `]` or `}` (a quote inside a quoted value is written '' inside '…', \\\" inside \"…\")",
  ],
  [/^Unexpected , in flow/, 'an extra `,` inside [ ] or { }'],
];

/** Our words for the parser's problem `code` (with its `message`, for the codes that need it). */
function yamlProblem(code: string, message: string): string {
  const byMessage =
    code === 'MISSING_CHAR'
      ? MISSING_CHAR_PROBLEMS
      : code === 'BAD_INDENT'
        ? BAD_INDENT_PROBLEMS
        : code === 'UNEXPECTED_TOKEN'
          ? UNEXPECTED_TOKEN_PROBLEMS
          : [];
  for (const [pattern, what] of byMessage) if (pattern.test(message)) return what;
  return YAML_PROBLEMS[code] ?? `YAML error ${code}`;
}
/** Parse failures an environment value may fall back from (it is then read as plain text). */
export const syntaxProblems = new WeakSet<ConfigError>();

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

/** `readText`, throwing the problems it found (one `ConfigError` listing them all). */
export function parseText(text: string, format: ConfigFormat, ctx: ParseContext): unknown {
  const found = newFound();
  const value = readText(text, format, ctx, found);
  if (found.issues.length > 0) {
    throw new ConfigError(
      `${where(ctx)}: ${found.issues.length} problem(s) in the ${format === 'json' ? 'JSON' : 'YAML'}`,
      found.issues.slice(0, MAX_ISSUES),
    );
  }
  return value;
}

/**
 * Parses config text, collecting in `found` the problems that leave the rest of the document
 * readable — unknown tags, duplicate keys, reserved key names, aliases without anchor — with the
 * value they affect left out, so the rest can still be validated and every problem reported at
 * once. Syntax errors and limits throw.
 */
export function readText(text: string, format: ConfigFormat, ctx: ParseContext, found: Found): unknown {
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw tooLarge(ctx, `larger than ${MAX_CONFIG_BYTES} bytes (the limit for a config)`);
  }
  const value = format === 'json' ? parseJson(text, ctx, found) : parseYamlText(text, ctx, found);
  if (value !== undefined) checkTree(value, ctx, found);
  if (value !== undefined && ctx.env === undefined) checkPlaceholders(value, ctx, found);
  return value;
}

function parseJson(text: string, ctx: ParseContext, found: Found): unknown {
  // A UTF-8 byte order mark, as editors on Windows write it (the YAML lexer skips it itself).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8's messages quote the text around the error: keep only the position, when there is one.
    const offset = /position (\d+)/.exec(String((err as Error)?.message))?.[1];
    let at = '';
    let why = '';
    if (offset !== undefined) {
      const before = text.slice(0, Number(offset));
      const { line, column } = lineAndColumn(text, Number(offset));
      at = ` at line ${line}, column ${column}`;
      // "not valid JSON at line 3, column 5" alone left the reader looking at a comment or a
      // trailing comma that JSON5 / JSONC editors accept: say which (never quoting the text).
      const next = text.slice(Number(offset), Number(offset) + 2);
      if (next === '//' || next === '/*')
        why = ': JSON has no comments (YAML has: name the file .yaml or pass format: "yaml")';
      else if ((next[0] === '}' || next[0] === ']') && before.trimEnd().endsWith(','))
        why = ': a comma before a closing `}` or `]` (JSON has no trailing commas)';
      else if (next[0] === "'") why = ': JSON text is in double quotes';
    }
    // V8 gives no position for an unexpected token; the commonest case is YAML in a .json file.
    const hint = /^\s*[{[]/.test(text)
      ? ''
      : ' (a JSON config is one object, starting with "{"; for YAML, name the file .yaml or pass format: "yaml")';
    throw syntaxProblem(`${where(ctx)}: not valid JSON${at}${why}${hint}`, 'JSON syntax error');
  }
  // JSON.parse keeps the last of duplicate keys without a word; a config says each key once.
  const { duplicates, numberTexts } = scanJson(text, ctx);
  for (const { at, problem } of duplicates) {
    found.issues.push(problem);
    found.blocked.push(at);
  }
  if (numberTexts.length > 0) found.numberTexts = [...(found.numberTexts ?? []), ...numberTexts];
  return value;
}

/**
 * Keys given twice in one object of (already valid) JSON text, with their paths: one linear scan
 * keeping, per open object, the keys seen (compared after unescaping, so `"\u0061"` is `"a"`).
 * Also the numbers written otherwise than they print (`1.10`, `1e3`), as the YAML reader records
 * them: a label value `"version": 1.10` was "1.1" from a JSON file and "1.10" from the same YAML.
 */
function scanJson(
  text: string,
  ctx: ParseContext,
): { duplicates: { at: string[]; problem: ConfigIssue }[]; numberTexts: { path: string[]; text: string }[] } {
  const found: { at: string[]; problem: ConfigIssue }[] = [];
  const numberTexts: { path: string[]; text: string }[] = [];
  // Per open object or array: the keys seen (objects), whether a key comes next, the current
  // key or index, which is that level's segment of the path.
  const frames: { keys: Set<string> | undefined; expectKey: boolean; index: number }[] = [];
  const segments: string[] = [...ctx.at];
  const base = ctx.at.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = frames.at(-1);
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const at = [...segments.slice(0, base + frames.length - 1), key];
        if (top.keys.has(key)) {
          const problem = issue(at, 'appears twice in the same mapping', 'each key once', 'a duplicate key');
          found.push({ at, problem });
        }
        top.keys.add(key);
        top.expectKey = false;
        segments[base + frames.length - 1] = key;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      // The depth limit, here before the tree walk that checks it too: each key copies its path,
      // so a 1 MiB file of nested objects (`{"a":{"a":…`, 200 000 levels) took time quadratic in
      // its depth (40 000 levels: 20 s; the whole file: hours) before being refused as too deep.
      if (frames.length >= MAX_CONFIG_DEPTH) {
        throw tooDeep(ctx, `line ${lineAndColumn(text, i).line}`);
      }
      const object = c === 0x7b;
      frames.push({ keys: object ? new Set() : undefined, expectKey: object, index: 0 });
      segments[base + frames.length - 1] = '0';
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
      segments.length = base + frames.length;
    } else if (c === 0x2c /* , */) {
      const top = frames.at(-1)!;
      if (top.keys) top.expectKey = true;
      else segments[base + frames.length - 1] = String(++top.index);
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39) /* 0-9 */) {
      // Outside a string, in valid JSON, a `-` or digit starts a number (a value, never a key).
      let j = i + 1;
      while (j < text.length && /[-+.eE0-9]/.test(text[j]!)) j++;
      const written = text.slice(i, j);
      if (frames.length > 0 && written !== String(Number(written)))
        numberTexts.push({ path: segments.slice(0, base + frames.length), text: written });
      i = j - 1;
    }
  }
  return { duplicates: found, numberTexts };
}

/**
 * Text before `offset` as a line and column, a line ending at CRLF, LF or a lone CR (a file saved
 * with old Mac line endings was read as one line: every position said line 1).
 */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const breaks = before.match(/\r\n?|\n/g);
  const start = Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r')) + 1;
  return { line: (breaks?.length ?? 0) + 1, column: offset - start + 1 };
}

/**
 * YAML 1.2 takes a lone CR as a line break; the parser does not. Text without any LF has its CRs
 * read as LFs, and a CR that ends the text ends its last line whatever the other lines end with
 * (same length, so positions stay the text's). A lone CR elsewhere in text with LFs is left to
 * the parser (a value holding one keeps it).
 */
export function crLineEnds(text: string): string {
  if (!text.includes('\r')) return text;
  if (!text.includes('\n')) return text.replaceAll('\r', '\n');
  return text.endsWith('\r') ? `${text.slice(0, -1)}\n` : text;
}

function parseYamlText(text: string, ctx: ParseContext, found: Found): unknown {
  // A file whose lines end with a lone CR (old Mac files) was read by the parser as one line and
  // refused with "a nested block is used as a key" at line 1; a CRLF file whose last LF was cut
  // (`"$(cat app.yaml)"` in a shell drops trailing LFs, not CRs) kept the CR in its last value —
  // `password: hunter2` read "hunter2\r", `max_cost: 5` refused as text. An environment value is
  // read the same way: one from a CRLF env file read by a shell (`. ./app.env`) ends with a
  // lone CR, and `HYPERION__METRICS__PORT=9464<CR>` was refused as text ("a number in quotes")
  // where `9464<LF>` and `9464<CR><LF>` were the number. If a file mixing lone CRs and LFs is then
  // not valid, the error names the mixed line ends.
  text = crLineEnds(text);
  const crNote =
    ctx.env === undefined && /\r(?!\n)/.test(text)
      ? ' (some lines of the file end with a lone CR, the old Mac line ending, others with LF: save it with LF or CRLF line endings)'
      : '';
  const lines = new LineCounter();
  const tokens = lexAndParse(text, lines, ctx);
  const position = (offset: number) => {
    const p = lines.linePos(offset);
    return `line ${p.line}, column ${p.col}`;
  };
  // A second document, or text outside any document, is refused before composing: a file of
  // 250 000 `---` lines or 500 000 stray brackets would otherwise be composed in full first.
  let documents = 0;
  const strays: number[] = [];
  for (const token of tokens) {
    if (token.type === 'document' && ++documents === 2) {
      throw syntaxProblem(
        `${where(ctx)}: holds more than one YAML document (a second one starts at ${position(token.offset)}); a config is one document`,
      );
    }
    if (token.type === 'error') strays.push(token.offset);
  }
  if (strays.length > MAX_ISSUES) {
    throw syntaxProblem(
      `${where(ctx)}: not valid YAML at ${position(strays[0]!)}: ${YAML_PROBLEMS.UNEXPECTED_TOKEN} (and ${strays.length - 1} more problem(s))${crNote}`,
      'YAML UNEXPECTED_TOKEN',
    );
  }
  const budget = { values: MAX_CONFIG_VALUES, aliases: MAX_CONFIG_ALIASES };
  for (const token of tokens) checkCst(token, lines, ctx, budget);
  const docs: Document.Parsed[] = [];
  const composer = new Composer({ uniqueKeys: false, logLevel: 'silent', prettyErrors: false });
  for (const doc of composer.compose(tokens, true, text.length)) docs.push(doc);
  const doc = docs[0]!;
  if (docs.length > 1) {
    throw syntaxProblem(
      `${where(ctx)}: holds more than one YAML document (a second one starts at ${position(docs[1]!.range[0])}); a config is one document`,
    );
  }
  // Syntax errors first, by position only: in a broken document a value may have become a key,
  // and keys are shown in paths. Then unknown tags and duplicate keys, with their paths; then the
  // parser's remaining warnings, by position.
  const report = (problems: readonly { code: string; message: string; pos: [number, number] }[]) => {
    const first = problems[0]!;
    const what = yamlProblem(first.code, first.message);
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    return syntaxProblem(
      `${where(ctx)}: not valid YAML at ${position(first.pos[0])}: ${what}${more}${crNote}`,
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
  checkDocument(doc, ctx, found);
  if (found.issues.length === 0 && doc.warnings.length > 0) throw report(doc.warnings);
  if (doc.contents === null) return undefined;
  try {
    // At most MAX_CONFIG_ALIASES uses were let through (checkCst): the library's guard, which
    // multiplies uses per anchor, only has to stop what the value limit refuses anyway.
    return doc.toJS({ maxAliasCount: MAX_CONFIG_VALUES });
  } catch (err) {
    const excessive = /excessive alias/i.test(String((err as Error)?.message));
    if (!excessive && found.issues.length > 0) {
      // An alias to an anchor on a value left out for its own problem: those are reported.
      found.incomplete = true;
      return undefined;
    }
    throw new ConfigError(
      `${where(ctx)}: ${excessive ? `YAML aliases (*name) expand to more than ${MAX_CONFIG_VALUES} values (the limit for a config)` : YAML_PROBLEMS.MISSING_ANCHOR}`,
      [],
      { cause: new Error(excessive ? 'YAML alias count' : 'YAML alias') },
    );
  }
}
