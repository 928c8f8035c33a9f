/** YAML tags and keys a config may use, checked on the parsed document with paths. */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, Scalar } from 'yaml';
import type { ConfigIssue } from '../core/errors.js';
import { type ParseContext, RESERVED_KEYS } from './limits.js';
import { type Found, isSecretPath, issue } from './messages.js';

/** The tags a config may use: YAML's core schema, and `!` (plain text). */
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`).concat('!'),
);

/** YAML 1.1 / YAML.org tags a message may name (`!!binary`); shown by their short form. */
const YAML_ORG_TAGS = new Set(['binary', 'set', 'omap', 'pairs', 'timestamp', 'merge', 'value', 'yaml']);
/** Custom tags other tools resolve (`!env`, `!vault`, CloudFormation's `!Ref`), named in messages. */
const TOOL_TAGS = new Set(
  ['env', 'ENV', 'vault', 'include', 'secret', 'file', 'import', 'var', 'sops', 'base64']
    .concat(['Ref', 'Sub', 'GetAtt', 'Join', 'ImportValue', 'Base64'])
    .map((t) => `!${t}`),
);

/**
 * How a tag appears in a message: only a well-known one is named. A tag sits right before its
 * value and is often part of it — a header value, token or password that starts with `!`
 * (`x-team: !kT9x2…`), or `!https://user:pass@host` — so any other tag is "a YAML tag".
 */
export function shownTag(tag: string): string | undefined {
  const yamlOrg = /^tag:yaml\.org,2002:([a-z]+)$/.exec(tag)?.[1];
  if (yamlOrg !== undefined) return YAML_ORG_TAGS.has(yamlOrg) ? `!!${yamlOrg}` : undefined;
  return TOOL_TAGS.has(tag) ? tag : undefined;
}

const TAG_EXPECTED =
  'a plain value (only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are known tags)';

/** Where each anchor (`&name`) is first defined: an alias is valid only after its anchor. */
function anchorOffsets(doc: Document.Parsed): Map<string, number> {
  const first = new Map<string, number>();
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!node || typeof node !== 'object') continue;
    const { anchor, range } = node as { anchor?: string; range?: [number, number, number] };
    if (anchor !== undefined && range) first.set(anchor, Math.min(first.get(anchor) ?? Infinity, range[0]));
    if (isMap(node)) for (const pair of node.items) stack.push(pair.key, pair.value);
    else if (isSeq(node)) stack.push(...node.items);
  }
  return first;
}

/**
 * Unknown tags, duplicate keys, keys that are not plain names, reserved key names, YAML 1.1 merge
 * keys (`<<`) and aliases without an anchor before them, each an issue with its path. The
 * document is pruned of them as it is walked — the pair is removed (a duplicate: the later one),
 * a list item becomes null — so the rest of it can still be converted and validated, and their
 * paths go to `found.blocked` (the schema's issues there would only repeat them).
 */
export function checkDocument(doc: Document.Parsed, ctx: ParseContext, found: Found): void {
  const anchors = anchorOffsets(doc);
  /** The problem of a value itself (its tag, or an alias without anchor), if any. */
  const problem = (node: unknown, path: readonly string[]): ConfigIssue | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    if (isAlias(node)) {
      const defined = (anchors.get(node.source) ?? Infinity) < (node.range?.[0] ?? 0);
      return defined
        ? undefined
        : issue(
            path,
            'is an alias (*name) whose anchor (&name) is not defined before it',
            'an alias after its anchor, or a plain value',
            'an undefined alias',
          );
    }
    const tag = (node as { tag?: string }).tag;
    if (tag === undefined || CORE_TAGS.has(tag)) return undefined;
    // A tag on a secret field is not shown at all; elsewhere only a well-known one is named.
    const known = isSecretPath(path) ? undefined : shownTag(tag);
    const shown = known === undefined ? 'a YAML tag' : `the YAML tag \`${known}\``;
    return issue(path, `uses ${shown}, which is not supported`, TAG_EXPECTED, 'a tagged value');
  };
  const reject = (bad: ConfigIssue, path: string[]) => {
    found.issues.push(bad);
    found.blocked.push(path);
  };
  const root = problem(doc.contents, ctx.at);
  if (root) {
    reject(root, [...ctx.at]);
    doc.contents = null;
    return;
  }
  const stack: [unknown, string[]][] = [[doc.contents, [...ctx.at]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (isScalar(node) && typeof node.value === 'number' && node.type === 'PLAIN') {
      const text = (node as { source?: unknown }).source;
      if (typeof text === 'string' && text !== String(node.value)) {
        found.numberTexts ??= [];
        found.numberTexts.push({ path, text });
      }
    } else if (isMap(node)) {
      const seen = new Set<string>();
      const children: [unknown, string[]][] = [];
      node.items = node.items.filter((pair) => {
        if (!isPair(pair)) return true;
        const key = pair.key;
        if (!isScalar(key) || (key.value !== null && typeof key.value === 'object')) {
          found.issues.push(
            issue(
              path,
              'has a key that is a list, mapping or alias',
              'keys that are plain names',
              'a complex key',
            ),
          );
          return false;
        }
        const name = String(key.value ?? '');
        const at = [...path, name];
        const bad =
          (seen.has(name) &&
            issue(at, 'appears twice in the same mapping', 'each key once', 'a duplicate key')) ||
          (RESERVED_KEYS.has(name) &&
            issue(at, 'is a reserved name, not a config key', 'a config key', 'a reserved name')) ||
          (name === '<<' &&
            key.type === 'PLAIN' &&
            issue(
              at,
              'is a YAML 1.1 merge key, which YAML 1.2 does not have',
              'the keys written out in each mapping',
              'a merge key',
            )) ||
          problem(key, at) ||
          problem(pair.value, at);
        seen.add(name);
        if (bad) {
          reject(bad, at);
          return false;
        }
        children.push([pair.value, at]);
        return true;
      });
      // Last child first on the stack, so the issues deeper down come in the file's order (a later
      // key's came first).
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    } else if (isSeq(node)) {
      const children: [unknown, string[]][] = [];
      node.items.forEach((item, i) => {
        const at = [...path, String(i)];
        const bad = problem(item, at);
        if (bad) {
          reject(bad, at);
          node.items[i] = new Scalar(null);
        } else children.push([item, at]);
      });
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }
}
