/** YAML tags and keys a config may use, checked on the parsed document with paths. */
import { type Document, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { ConfigIssue } from '../core/errors.js';
import { MAX_ISSUES, type ParseContext } from './limits.js';
import { isSecretPath, issue } from './messages.js';

/** The tags a config may use: YAML's core schema, and `!` (plain text). */
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`).concat('!'),
);

/** Unknown tags, duplicate keys, keys that are not plain names, reserved key names; with paths. */
export function walkDocument(doc: Document.Parsed, ctx: ParseContext): ConfigIssue[] {
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
