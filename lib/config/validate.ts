/**
 * Validation against a valibot schema, with every bad field reported at once: its path, what it
 * accepts in plain words and the received type, never a value; issues caused by an environment
 * override name the variable.
 */
import * as v from 'valibot';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { suggestKey } from '../core/options.js';
import { type EnvOrigin, envText, replacedValue } from './env.js';
import { MAX_CONFIG_DEPTH, MAX_ISSUES } from './limits.js';
import { describeType, displayPath, type Found, newFound } from './messages.js';
import { printRedacted } from './printed.js';

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

/** What the schema walk below reads of a valibot schema (entries, options, pipe, wrapped …). */
interface SchemaNode {
  type?: string | undefined;
  literal?: unknown;
  kind?: string | undefined;
  message?: unknown;
  entries?: Record<string, SchemaNode> | undefined;
  options?: readonly SchemaNode[] | undefined;
  wrapped?: SchemaNode | undefined;
  pipe?: readonly SchemaNode[] | undefined;
  value?: SchemaNode | undefined;
  item?: SchemaNode | undefined;
}

const WRAPPERS = new Set(['optional', 'exact_optional', 'nullish', 'nullable', 'non_optional']);

/** The schema of the field at `segments` below `schema`, when it can be found. */
function fieldSchema(schema: SchemaNode | undefined, segments: readonly string[]): SchemaNode | undefined {
  let s = schema;
  for (const seg of segments) {
    while (s?.type !== undefined && WRAPPERS.has(s.type)) s = s.wrapped;
    if (!s) return undefined;
    // A pipe keeps its base schema's fields; a mapping built as pipe(custom, object) has its
    // entries on a schema inside the pipe.
    const inner = s.pipe?.find((p) => p.kind === 'schema' && (p.entries || p.options || p.value || p.item));
    const node = s.entries || s.options || s.value || s.item ? s : (inner ?? s);
    if (node.entries && Object.hasOwn(node.entries, seg)) s = node.entries[seg];
    else if (node.options) s = node.options.map((o) => fieldSchema(o, [seg])).find((x) => x !== undefined);
    else if (node.value) s = node.value;
    else if (node.item) s = node.item;
    else return undefined;
  }
  while (s?.type !== undefined && WRAPPERS.has(s.type)) s = s.wrapped;
  return s;
}

/**
 * Whether `segments[index]` is a key the schema defines in the mapping at `segments[0…index)` (an
 * entry of an object schema, not a key of a free-form mapping such as `headers`).
 */
function definedKey(schema: SchemaNode | undefined, segments: readonly string[], index: number): boolean {
  const hasEntry = (s: SchemaNode | undefined): boolean => {
    while (s?.type !== undefined && WRAPPERS.has(s.type)) s = s.wrapped;
    if (!s) return false;
    const inner = s.pipe?.find((p) => p.kind === 'schema' && (p.entries || p.options));
    const node = s.entries || s.options ? s : (inner ?? s);
    if (node.entries) return Object.hasOwn(node.entries, segments[index]!);
    return (node.options ?? []).some((o) => typeof o === 'object' && o !== null && hasEntry(o));
  };
  return hasEntry(fieldSchema(schema, segments.slice(0, index)));
}

/**
 * The JavaScript types a field's schema can accept (`typeof`, plus `'any'` when it cannot be told),
 * looking through wrappers, pipes, unions and picklists.
 */
function acceptedTypes(s: SchemaNode | undefined, out = new Set<string>()): Set<string> {
  while (s?.type !== undefined && WRAPPERS.has(s.type)) s = s.wrapped;
  switch (s?.type) {
    case 'string':
    case 'number':
    case 'boolean':
      out.add(s.type);
      break;
    case 'literal':
      out.add(typeof s.literal);
      break;
    case 'picklist':
      for (const o of (s.options ?? []) as unknown[]) out.add(typeof o);
      break;
    case 'union':
    case 'variant':
      for (const o of s.options ?? []) acceptedTypes(o, out);
      break;
    default:
      out.add('any');
  }
  return out;
}

/**
 * `input` with each text field an environment variable set given the variable's text as written
 * where YAML read something else from it: a number or boolean (YAML would read
 * `HYPERION__CACHE__PASSWORD=123456` as a number, `=0x1F` or `=1e3` as another one), text it
 * trimmed or folded (` pass `, a multi-line PEM), or a mapping or list (`a: b`, `- x`). A field
 * taking text and numbers (a label value, a duration) gets the text when it accepts it as written
 * (a label value `1.10` stays "1.10", a duration `5000` stays the number). Quoted, block and
 * tagged values are YAML on purpose and have no text here. Copies along the changed paths only.
 */
function withEnvText(schema: unknown, input: unknown, origins: readonly EnvOrigin[]): unknown {
  let out = input;
  const copied = new WeakSet<object>();
  for (const origin of origins) {
    const text = envText.get(origin);
    if (text === undefined) continue;
    const current = lookup(out, origin.path);
    if (current === text) continue;
    const field = fieldSchema(schema as SchemaNode, origin.path);
    if (!field) continue;
    const types = acceptedTypes(field);
    if (!types.has('string') || types.has('any')) continue;
    // The YAML value stands where the field takes it and refuses the text as written (a host
    // name read without its trailing newline, a duration `5000`) — but not text YAML changed
    // more than by trimming it (a folded line break): the field then refuses what was written.
    const trimmedOnly = typeof current !== 'string' || current === text.trim();
    if (types.has(typeof current) && trimmedOnly && !v.safeParse(field as v.GenericSchema, text).success)
      continue;
    out = replaceAt(out, origin.path, text, copied);
  }
  return out;
}

/**
 * `input` with each plain YAML number written otherwise than it prints (`1.10`, `2.0`, `007`) given
 * as its text to a field that takes text and numbers alike and accepts the text as written: a
 * label value `version: 1.10` is "1.10", not "1.1" (`2.0` is not "2"). Fields taking numbers only
 * (`sample_rate`), text only (a password: a number stays an error) or anything (attributes, where
 * a number is a number) keep YAML's reading, and so does a duration (`1.50` is no duration text).
 * A number inside a variable's mapping or list (`HYPERION__METRICS__DEFAULT_LABELS='{version:
 * 1.10}'`) is read as in a file: it was "1.1" there, and `0x1F` was refused as hexadecimal where
 * the file's label is "0x1F". Texts from a file are left alone where a variable replaced the
 * value, texts from a variable where a later variable did.
 */
function withFileText(
  schema: unknown,
  input: unknown,
  texts: readonly { path: readonly string[]; text: string; env?: string | undefined }[],
  origins: readonly EnvOrigin[],
): unknown {
  let out = input;
  const copied = new WeakSet<object>();
  for (const { path, text, env } of texts) {
    if ((findOrigin(origins, path)?.name ?? undefined) !== env || typeof lookup(out, path) !== 'number')
      continue;
    const field = fieldSchema(schema as SchemaNode, path);
    if (!field) continue;
    const types = acceptedTypes(field);
    if (!types.has('string') || !types.has('number') || types.has('any')) continue;
    if (v.safeParse(field as v.GenericSchema, text).success) out = replaceAt(out, path, text, copied);
  }
  return out;
}

/** YAML 1.2's integer forms other than decimal (its core schema: lower-case prefix, no sign). */
const NOT_DECIMAL: readonly [RegExp, string][] = [
  [/^0x[0-9a-fA-F]+$/, 'hexadecimal (0x…)'],
  [/^0o[0-7]+$/, 'octal (0o…)'],
];

/**
 * Numbers written in hexadecimal or octal (`port: 0x1F90`, `HYPERION__METRICS__PORT=0o17`) where
 * a field takes numbers and no text: YAML 1.2 reads them as integers, which a port, a duration in
 * ms, a count or a sample rate (`0x1` = every trace) was never meant to be written as, so each is
 * an issue with its path, never taken silently. A field that takes text too and accepts the text
 * as written (a label value) has it as text by now; attributes (any value) keep YAML's reading.
 * Texts from a file are skipped where an environment variable replaced the value, texts from a
 * variable where a later variable did.
 */
function numberFormProblems(
  schema: unknown,
  input: unknown,
  texts: readonly { path: readonly string[]; text: string; env?: string | undefined }[],
  origins: readonly EnvOrigin[],
): Found {
  const found = newFound();
  for (const { path, text, env } of texts) {
    const form = NOT_DECIMAL.find(([re]) => re.test(text))?.[1];
    if (form === undefined || typeof lookup(input, path) !== 'number') continue;
    const origin = findOrigin(origins, path);
    if ((origin?.name ?? undefined) !== env) continue;
    const field = fieldSchema(schema as SchemaNode, path);
    if (!field) continue;
    const types = acceptedTypes(field);
    if (!types.has('number') || types.has('any')) continue;
    found.issues.push({
      path: displayPath(path),
      expected: `${fieldPhrase(schema, path) ?? 'a number'}, in decimal digits`,
      received: `a number in ${form.split(' ')[0]}`,
      message: `is written in ${form}, which YAML reads as an integer; a number in a config is written in decimal${origin ? ` (set by environment variable ${origin.name})` : ''}`,
    });
    found.blocked.push([...path]);
  }
  return found;
}

/** Text that is a number but for `_` between its digits (`1_000`): YAML 1.1 read it as one. */
const UNDERSCORED_NUMBER = /^[-+]?(?=[0-9_.]*[0-9])(?=[^_]*_)[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9_]+)?$/;
/**
 * A decimal number as YAML and JSON write one (what a quoted number holds). The digits after the
 * point are matched only after a point: `\d+\.?\d*` split a run of digits every way before
 * failing, so a long one not followed by a number's end (`dial_timeout: "111…1ms"`, a 1 MiB file)
 * took time quadratic in its length — minutes.
 */
const DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
/** YAML 1.1's other booleans (`yes`, `off`, …): text in YAML 1.2, which has only true and false. */
const YAML11_BOOLEAN = /^(y|yes|n|no|on|off)$/i;

/**
 * `root` with `value` at `segments`, the mappings on the way copied (the input is not changed):
 * each once per pass, `copied` holding the copies made so far. Copied again for every value set,
 * a mapping of n label values written `1.10` was copied n times: loading 10,000 such labels (a
 * 160 KB file) took 159 s.
 */
function replaceAt(
  root: unknown,
  segments: readonly string[],
  value: unknown,
  copied: WeakSet<object>,
): unknown {
  if (segments.length === 0) return value;
  let node = root as Record<string, unknown>;
  if (!copied.has(node)) {
    // A list stays a list: copied as a mapping, `default_labels: [1.10]` became `{0: "1.10"}` and
    // was reported as a bad label name `0` instead of a list where a mapping belongs.
    node = (Array.isArray(node) ? [...node] : { ...node }) as Record<string, unknown>;
    copied.add(node);
  }
  const [head, ...rest] = segments as [string, ...string[]];
  node[head] = replaceAt(node[head], rest, value, copied);
  return node;
}

/** Our phrase for what a (missing) field accepts, from its schema's message. */
function fieldPhrase(schema: unknown, segments: readonly string[]): string | undefined {
  const message = fieldSchema(schema as SchemaNode, segments)?.message;
  return typeof message === 'string' && !message.startsWith('Invalid ') ? message : undefined;
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
  schema?: v.GenericSchema,
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
    } else if (
      i.kind === 'schema' &&
      raw === undefined &&
      segments.length > 0 &&
      (i.type === 'object' || i.type === 'loose_object' || i.type === 'strict_object')
    ) {
      // A required key is missing: the issue is its parent mapping's. Say what the field itself
      // accepts (from its schema), not "a mapping".
      message = 'is required';
      expected = fieldPhrase(schema, segments) ?? 'a value (the field is required)';
    } else {
      expected = ours ? i.message : plainExpected(i);
      message = reason(i, raw);
      // `exporter: Jaeger`, `level: INFO`: the accepted value meant is named, as for a misspelt
      // key (the message named none; the value itself is never shown).
      if (i.type === 'picklist' && typeof raw === 'string') {
        const near = suggestKey(
          raw,
          [...(i.expected ?? '').matchAll(/"([^"\\]*)"/g)].map((m) => m[1]!),
        );
        if (near !== undefined) message = `${message}; did you mean \`${near}\`?`;
      }
      // `max_cost: 67_108_864` is text in YAML 1.2: "has the wrong type … received text" alone
      // left the reader looking at what reads as a number.
      if (
        typeof raw === 'string' &&
        UNDERSCORED_NUMBER.test(raw) &&
        acceptedTypes(fieldSchema(schema as SchemaNode | undefined, segments)).has('number')
      ) {
        message = `${message}: digits with \`_\` between them are text in YAML 1.2, not a number (write them without \`_\`)`;
      }
      // `port: "9464"`, `scheduled_delay: "5000"`, `enabled: "true"` (a template that quotes
      // every value, a JSON file written by hand): quoted, a number or boolean is text. "expected
      // … or as a number of milliseconds, received text" left the reader looking at a number.
      const field = fieldSchema(schema as SchemaNode | undefined, segments);
      const accepts = acceptedTypes(field);
      if (typeof raw === 'string' && field && !accepts.has('any')) {
        const t = raw.trim();
        // A field taking text too (a duration) gets the hint only when it takes the number.
        if (
          accepts.has('number') &&
          DECIMAL.test(t) &&
          (!accepts.has('string') || v.safeParse(field as v.GenericSchema, Number(t)).success)
        )
          message = `${message}: a number in quotes is text (write it without quotes)`;
        else if (accepts.has('boolean') && !accepts.has('string') && /^(true|false)$/i.test(t))
          message = `${message}: true or false in quotes is text (write it without quotes)`;
      }
      // `enabled: yes`, `register_global: off`: YAML 1.1 booleans. "has the wrong type … received
      // text" alone left the reader looking at what reads as a yes or a no.
      if (
        typeof raw === 'string' &&
        YAML11_BOOLEAN.test(raw) &&
        acceptedTypes(fieldSchema(schema as SchemaNode | undefined, segments)).has('boolean')
      ) {
        received = `${received}: yes, no, on and off are text, not booleans (YAML 1.2 has only true and false)`;
      }
    }
    const origin = findOrigin(origins, segments);
    const last = segments.at(-1);
    if (
      origin &&
      received === 'an unknown field' &&
      last?.includes('.') &&
      origin.target[segments.length - 1] === last &&
      !/did you mean `/.test(message)
    ) {
      // `HYPERION__TRACING.SAMPLE_RATE`: the dot is part of a key (`tracing.sample_rate` at the
      // top level), which read as the right path under a list of section names. Name the
      // variable and the form that is read instead.
      const suggested = `${origin.prefix}${origin.name.slice(origin.prefix.length).replaceAll('.', '__')}`;
      return {
        path: origin.name,
        expected: `${origin.prefix}SECTION__FIELD, the parts of the path separated by \`__\` (e.g. ${suggested})`,
        received: 'a name with `.`',
        message:
          `environment variable ${origin.name}: a \`.\` in the name is part of a key ` +
          `(\`${displayPath([last])}\` is not a known field), not a separator; did you mean ${suggested}?`,
      };
    }
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
    return {
      path: displayPath(segments, (k) => definedKey(schema as SchemaNode | undefined, segments, k)),
      expected,
      received,
      message,
    };
  });
}

const UNKNOWN_FIELD = 'is not a known field';

/** The origins by path (segments joined by NUL), the first of each path kept; built once per list. */
const originIndex = new WeakMap<readonly EnvOrigin[], Map<string, EnvOrigin>>();

/**
 * The origin with the longest path that `segments` starts with. By index, prefix by prefix: a scan
 * of every origin for each value made a load with n variables (and n values to check) quadratic.
 */
function findOrigin(origins: readonly EnvOrigin[], segments: readonly string[]): EnvOrigin | undefined {
  if (origins.length === 0) return undefined;
  let index = originIndex.get(origins);
  if (!index) {
    index = new Map();
    for (const o of origins) {
      const key = o.path.join('\0');
      if (!index.has(key)) index.set(key, o);
    }
    originIndex.set(origins, index);
  }
  for (let n = segments.length; n > 0; n--) {
    const o = index.get(segments.slice(0, n).join('\0'));
    if (o) return o;
  }
  return undefined;
}

/**
 * Text values and keys holding a lone UTF-16 surrogate (`"\\ud800"` in a JSON or YAML file, an
 * object given to `parseConfig`, an `env` option): not Unicode text, such a value cannot be
 * encoded as UTF-8 and would reach Redis, a header or an exporter as U+FFFD — a password that
 * silently differs from the one written. Each is an issue with its path (never the value), and
 * its path is blocked. The walk is bounded by the depth limit and skips what it has seen (an
 * object given to `parseConfig` may hold a cycle).
 */
/** A surrogate code unit not in a pair (with the `u` flag a pair is one code point, not `Cs`). */
const LONE_SURROGATE = /\p{Cs}/u;

function loneSurrogates(input: unknown, origins: readonly EnvOrigin[]): Found {
  const found = newFound();
  const seen = new Set<object>();
  const report = (path: string[], what: string) => {
    const origin = findOrigin(origins, path);
    found.issues.push({
      path: displayPath(path),
      expected: 'text of Unicode characters (a UTF-16 surrogate only in a pair)',
      received: `${what} with a lone surrogate`,
      message:
        `${what === 'a key' ? 'is a key that holds' : 'holds'} a lone UTF-16 surrogate (U+D800 to U+DFFF without its pair), ` +
        'which is not text: it cannot be encoded as UTF-8 and would be sent as U+FFFD' +
        (origin ? ` (set by environment variable ${origin.name})` : ''),
    });
    found.blocked.push(path);
  };
  const stack: [unknown, string[]][] = [[input, []]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) report(path, 'text');
      continue;
    }
    if (typeof node !== 'object' || node === null || seen.has(node) || path.length > MAX_CONFIG_DEPTH)
      continue;
    seen.add(node);
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...path, String(i)]]);
      continue;
    }
    const proto = Object.getPrototypeOf(node);
    if (proto !== Object.prototype && proto !== null) continue;
    for (const key of Object.keys(node).reverse()) {
      if (LONE_SURROGATE.test(key)) report([...path, key], 'a key');
      else stack.push([(node as Record<string, unknown>)[key], [...path, key]]);
    }
  }
  return found;
}

/**
 * Values that are not mappings (`tracing: none`, `metrics: false`) which a variable naming a field
 * inside them replaced with a mapping: each one the field refuses on its own is an issue at its
 * path (it was dropped without a word: the file's error unreported, `tracing: none` tracing on).
 * One the field takes (`tls: true`, given its `server_name` by a variable) stays replaced.
 */
function replacedProblems(schema: unknown, origins: readonly EnvOrigin[]): Found {
  const found = newFound();
  for (const origin of origins) {
    const replaced = replacedValue.get(origin);
    if (!replaced) continue;
    const field = fieldSchema(schema as SchemaNode, origin.path);
    if (!field || v.safeParse(field as v.GenericSchema, replaced.value).success) continue;
    found.issues.push({
      path: displayPath(origin.path),
      expected: fieldPhrase(schema, origin.path) ?? 'a mapping',
      received: describeType(replaced.value),
      message: `is not a mapping, so environment variable ${origin.name} cannot set a field inside it (a variable sets the field it names, it does not replace the value around it)`,
    });
  }
  return found;
}

/** Problems found before validation (in the file, in environment variables), and what they are. */
export interface PriorProblems {
  /** `in the YAML`, `in the JSON`, `in environment variables`. */
  what: string;
  found: Found;
}

/**
 * Validates `input` against `schema`, throwing one ConfigError listing every bad field. With the
 * `origins` of `mergeEnvOverrides`, a text field an environment variable set gets the variable's
 * text even where YAML read a number or boolean from it (`HYPERION__CACHE__PASSWORD=123456` is the
 * password "123456"); numeric and boolean fields keep the YAML value. `prior` problems (found
 * while reading the file and the environment) are listed first, in the same error; the schema's
 * issues at the paths they concern are left out (they would only repeat them).
 */
export function validateConfig<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  source = 'config',
  origins: readonly EnvOrigin[] = [],
  prior: readonly PriorProblems[] = [],
): v.InferOutput<S> {
  const unpaired = loneSurrogates(input, origins);
  if (unpaired.issues.length > 0) prior = [...prior, { what: 'in text values', found: unpaired }];
  let priorCount = prior.reduce((n, p) => n + p.found.issues.length, 0);
  let flat: v.BaseIssue<unknown>[] = [];
  if (!prior.some((p) => p.found.incomplete)) {
    const texts = prior.flatMap((p) => p.found.numberTexts ?? []);
    if (texts.length > 0) input = withFileText(schema, input, texts, origins);
    input = withEnvText(schema, input, origins);
    const replaced = replacedProblems(schema, origins);
    if (replaced.issues.length > 0) {
      prior = [...prior, { what: 'in values replaced by environment variables', found: replaced }];
      priorCount += replaced.issues.length;
    }
    const forms = numberFormProblems(schema, input, texts, origins);
    if (forms.issues.length > 0) {
      prior = [...prior, { what: 'in how numbers are written', found: forms }];
      priorCount += forms.issues.length;
    }
    const result = v.safeParse(schema, input, { abortEarly: false });
    if (result.success && priorCount === 0) return printRedacted(result.output);
    if (!result.success) {
      const blocked = prior.flatMap((p) => p.found.blocked);
      flat = flattenUnionIssues(result.issues).filter((i) => {
        const segments = (i.path ?? []).map((p) => String(p.key));
        return !blocked.some((b) => b.length <= segments.length && b.every((s, k) => s === segments[k]));
      });
    }
  }
  const fields = toConfigIssues(flat.slice(0, MAX_ISSUES), input, origins, schema);
  const issues = [...prior.flatMap((p) => p.found.issues), ...fields];
  // Counted over every invalid field, not only the first MAX_ISSUES listed: 20 000 bad variables
  // were summed up as "20000 invalid field(s) (100 from environment variables)". A field is the
  // environment's when a variable set it or a mapping above it (each path at most 32 deep).
  const originPaths = new Set(origins.map((o) => o.path.join('\0')));
  const fromEnv =
    originPaths.size === 0
      ? 0
      : flat.filter((i) => {
          const segments = (i.path ?? []).map((p) => String(p.key));
          for (let n = 1; n <= segments.length; n++)
            if (originPaths.has(segments.slice(0, n).join('\0'))) return true;
          return false;
        }).length;
  const parts = prior
    .filter((p) => p.found.issues.length > 0)
    .map((p) => `${p.found.issues.length} problem(s) ${p.what}`);
  if (flat.length > 0) {
    parts.push(`${flat.length} invalid field(s)${fromEnv ? ` (${fromEnv} from environment variables)` : ''}`);
  }
  const total = priorCount + flat.length;
  const listed = total > MAX_ISSUES ? `, the first ${MAX_ISSUES} listed` : '';
  throw new ConfigError(`${source}: ${parts.join(', ')}${listed}`, issues.slice(0, MAX_ISSUES));
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
