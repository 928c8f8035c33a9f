/**
 * A YAML syntax error names what is wrong in plain words. The parser reports several different
 * mistakes under one code (MISSING_CHAR, BAD_INDENT), and all of them read "a closing quote, bracket or brace
 * is missing" — also the most common one, a line of a mapping without `: ` (`port 6379`,
 * `password:hunter2`), which has no quote, bracket or brace at all. The source is never quoted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

let dir: string | undefined;
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

async function loadError(text: string): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'hyperion-yaml-words-'));
  const path = join(dir, 'app.yaml');
  await writeFile(path, text);
  const err = await loadConfig(path, { env: {} }).then(
    (c) => new Error(`loaded: ${JSON.stringify(c)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.doesNotMatch(err.message, /S3CR3T/);
  return err.message;
}

describe('YAML syntax errors say which character is missing', () => {
  const cases: [string, string, RegExp][] = [
    [
      'a value run into its key',
      'cache:\n  type: redis\n  password:hunter2-S3CR3T\n',
      /at line 3, column 3: a line in a mapping is not `key: value` \(a `:` followed by a space is missing after the key\)/,
    ],
    [
      'a key without its colon',
      'cache:\n  type: redis\n  port 6379\n',
      /at line 3, column 3: a line in a mapping is not `key: value`/,
    ],
    [
      'an unclosed quote',
      'cache:\n  type: redis\n  password: "S3CR3T\n',
      /at line 4, column 1: a closing quote is missing$/,
    ],
    [
      'an unclosed bracket',
      '[tracing, cache\n',
      /at line 2, column 1: a closing bracket or brace is missing$/,
    ],
    // Inside a block mapping the parser files an unclosed `[` or `{` under BAD_INDENT: it read
    // "the indentation does not line up", with nothing about the bracket.
    [
      'an unclosed bracket under a key',
      'cache:\n  type: redis\n  mode: cluster\n  addresses: [redis-1:6379, redis-2:6379\n  password: S3CR3T\n',
      /at line 5, column 3: a closing bracket or brace is missing, or a line inside \[ \] or \{ \} is indented no deeper than its key$/,
    ],
    [
      'an unclosed brace under a key',
      'tracing:\n  headers: {authorization: S3CR3T\n  exporter: otlp\n',
      /at line 3, column 3: a closing bracket or brace is missing/,
    ],
    // "Nested mappings are not allowed in compact mappings": it read "a nested block is used as a
    // key", while the mistake is a `: ` in a value written on its key's line (quote the value).
    [
      'a value holding `: ` on its key line',
      'tracing:\n  headers:\n    authorization: Bearer: S3CR3T\n',
      /at line 3, column 20: a value written after its key holds a `: ` \(quote the value\) or is followed by a line indented deeper than its key$/,
    ],
    [
      'a mapping written on its key line',
      'tracing:\n  headers: authorization: S3CR3T\n',
      /at line 2, column 12: a value written after its key holds a `: `/,
    ],
    // "Unexpected scalar at node end" read "unexpected text", which named neither the quote
    // inside a quoted value (an apostrophe in '…') nor what to write instead.
    [
      'a quote inside a single-quoted value',
      "cache:\n  type: redis\n  password: 'it's-S3CR3T'\n",
      /at line 3, column 17: text follows a value that has ended: after its closing quote, `\]` or `\}` \(a quote inside a quoted value is written '' inside '…', \\" inside "…"\)$/,
    ],
    [
      'text after a closing bracket',
      'tracing:\n  propagators: [b3] S3CR3T\n',
      /at line 2, column 21: text follows a value that has ended/,
    ],
    [
      'an extra comma inside brackets',
      'tracing:\n  propagators: [b3,,jaeger]\n',
      /at line 2, column 20: an extra `,` inside \[ \] or \{ \}$/,
    ],
    [
      'a comment without a space before it',
      'tracing: {exporter: none}# the S3CR3T\n',
      /at line 1, column 26: a # comment does not follow a space$/,
    ],
    [
      'an anchor run into its value',
      'tracing: &t{exporter: none}\n',
      /at line 1, column 12: a tag \(!name\) or anchor \(&name\) is not followed by a space$/,
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(name, async () => {
      assert.match(await loadError(text), expected);
    });
  }
});
