/**
 * What the loader makes of bytes and JSON the YAML path already handles: duplicate keys in JSON,
 * a byte order mark, and files that are not UTF-8. Nothing is ever silently changed: a key given
 * twice, or a byte that is not UTF-8 (which decoding would turn into U+FFFD, inside a password for
 * instance), is a ConfigError with a position or path and without the value.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { loadConfig, loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const SECRET = 'S3CR3T-enc0ding';
let dir: string | undefined;
async function file(name: string, bytes: string | Buffer): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'hyperion-config-enc-'));
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

function everything(err: unknown): string {
  const e = err as Error;
  return `${e.message}\n${String(e.cause)}\n${inspect(e, { depth: 10 })}\n${JSON.stringify(e)}`;
}

async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    (c) => new Error(`loaded: ${JSON.stringify(c)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.ok(!everything(err).includes(SECRET), `the secret leaked: ${everything(err)}`);
  return err;
}

describe('config: duplicate keys in JSON are errors, as in YAML', () => {
  it('a key given twice (the first password silently lost before) names its path, never the value', async () => {
    const text = `{"cache": {"type": "redis", "password": "a", "password": "${SECRET}"}}`;
    const err = await rejection(loadConfig(await file('dup.json', text), { env: {} }));
    assert.deepEqual(
      err.issues.map((i) => [i.path, i.message]),
      [['cache.password', 'appears twice in the same mapping']],
    );
    assert.throws(() => loadConfigFromText(text, { env: {}, format: 'json' }), ConfigError);
  });

  it('finds duplicates at every depth, in lists, and written with escapes', async () => {
    const text =
      '{"service": {"name": "a"}, "tracing": {"headers": {"a": "1", "\\u0061": "2"}}, ' +
      '"cache": {"type": "tiered", "l1": {"type": "memory"}, "l2": {"type": "memory", "max_cost": 1, "max_cost": 2}}, "service": {}}';
    const err = await rejection(
      Promise.resolve().then(() => loadConfigFromText(text, { env: {}, format: 'json' })),
    );
    // The duplicates, and (validated along with them) the l1 section's missing max_cost.
    assert.deepEqual(err.issues.map((i) => i.path).sort(), [
      'cache.l1.max_cost',
      'cache.l2.max_cost',
      'service',
      'tracing.headers.a',
    ]);
    assert.match(err.issues.find((i) => i.path === 'cache.l1.max_cost')!.message, /is required/);
    const list =
      '{"cache": {"type": "redis", "mode": "standalone", "addresses": ["a:1", "b:2"], "sentinel": {"addresses": [{"k": 1, "k": 2}]}}}';
    const err2 = await rejection(
      Promise.resolve().then(() => loadConfigFromText(list, { env: {}, format: 'json' })),
    );
    // The duplicate first; the file's other mistakes are reported with it.
    assert.deepEqual(
      err2.issues.map((i) => i.path),
      ['cache.sentinel.addresses.0.k', 'cache.sentinel.addresses', 'cache.addresses'],
    );
  });

  it('keys that differ, and strings that merely contain braces, quotes or commas, are fine', () => {
    // Attributes, not headers: `a` and `A` are two attribute names but one HTTP header (an error).
    const text =
      '{"service": {"name": "a,{\\"b\\": [1, 2]}"}, "tracing": {"attributes": {"a": "1", "A": "2", "b": "}"}}}';
    assert.deepEqual(loadConfigFromText(text, { env: {}, format: 'json' }).service, {
      name: 'a,{"b": [1, 2]}',
    });
  });
});

describe('config: encodings', () => {
  it('a UTF-8 byte order mark is allowed in JSON as in YAML (file and text)', async () => {
    const bom = '\uFEFF';
    assert.deepEqual(loadConfigFromText(`${bom}{"service": {"name": "a"}}`, { env: {}, format: 'json' }), {
      service: { name: 'a' },
    });
    assert.deepEqual(
      await loadConfig(await file('bom.json', `${bom}{"service": {"name": "b"}}`), { env: {} }),
      {
        service: { name: 'b' },
      },
    );
    assert.deepEqual(await loadConfig(await file('bom.yaml', `${bom}service: {name: c}\n`), { env: {} }), {
      service: { name: 'c' },
    });
  });

  it('a file that is not UTF-8 is refused with its line, not decoded into U+FFFD (a Latin-1 password)', async () => {
    const bytes = Buffer.concat([
      Buffer.from('service: {name: a}\ncache:\n  type: redis\n  password: caf'),
      Buffer.from([0xe9]),
      Buffer.from(`${SECRET}\n`),
    ]);
    for (const name of ['latin1.yaml', 'latin1.json']) {
      const err = await rejection(loadConfig(await file(name, bytes), { env: {} }));
      assert.match(err.message, /not UTF-8/);
      assert.match(err.message, /line 4\b/);
    }
  });

  it('a UTF-16 file (byte order mark FF FE or FE FF) is refused with a message saying so', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('service: {name: a}\n', 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const [name, bytes] of [
      ['le.yaml', le],
      ['be.yaml', be],
    ] as const) {
      const err = await rejection(loadConfig(await file(name, bytes), { env: {} }));
      assert.match(err.message, /UTF-16/);
    }
  });
});

describe('config: line endings (LF, CRLF, CR alone as old Mac files end lines)', () => {
  const lines = [
    'service: {name: users}',
    'tracing:',
    '  exporter: none',
    '  sample_rate: 0.5',
    '  attributes:',
    '    note: |',
    '      one',
    '      two',
    'cache: {type: memory, max_cost: 1000}',
  ];
  const expected = {
    service: { name: 'users' },
    tracing: { exporter: 'none', sample_rate: 0.5, attributes: { note: 'one\ntwo\n' } },
    cache: { type: 'memory', max_cost: 1000 },
  };

  it('a YAML file with CR-only line endings loads as with LF or CRLF (it was one line: "a nested block is used as a key")', async () => {
    for (const [name, eol] of [
      ['lf', '\n'],
      ['crlf', '\r\n'],
      ['cr', '\r'],
    ] as const) {
      const text = lines.join(eol) + eol;
      const loaded = await loadConfig(await file(`eol-${name}.yaml`, text), { env: {} });
      assert.deepEqual(JSON.parse(JSON.stringify(loaded)), expected, name);
      assert.deepEqual(JSON.parse(JSON.stringify(loadConfigFromText(text, { env: {} }))), expected, name);
    }
    // Mixed CR and LF line ends: refused, naming the line ends (a lone CR in a file with LF line
    // ends is left to the parser, as before: a quoted value holding one keeps it).
    const mixed = `${lines.slice(0, 4).join('\r')}\r${lines.slice(4).join('\n')}\n`;
    assert.throws(
      () => loadConfigFromText(mixed, { env: {} }),
      /some lines of the file end with a lone CR, the old Mac line ending, others with LF/,
    );
    assert.equal(loadConfigFromText('service:\n  name: "a\rb"\n', { env: {} }).service?.name, 'a\rb');
  });

  it('a CR that ends the file ends its last line (a CRLF file whose last LF was cut): the last value has no CR', async () => {
    // `"$(cat app.yaml)"` drops trailing LFs, not CRs: a CRLF file came through ending in `\r`,
    // and the parser kept it in the last value — the password read "hunter2\r" without a word,
    // a number on the last line was refused as text.
    for (const eol of ['\n', '\r\n']) {
      const text = [
        'cache:',
        '  type: redis',
        '  addresses: ["a:1"]',
        '  db: 3',
        '  password: hunter2\r',
      ].join(eol);
      const loaded = loadConfigFromText(text, { env: {} });
      assert.equal(loaded.cache?.type === 'redis' && loaded.cache.password, 'hunter2', JSON.stringify(eol));
      const numberLast = ['cache:', '  type: memory', '  max_cost: 5\r'].join(eol);
      assert.deepEqual(JSON.parse(JSON.stringify(loadConfigFromText(numberLast, { env: {} }))), {
        cache: { type: 'memory', max_cost: 5 },
      });
      assert.deepEqual(
        JSON.parse(JSON.stringify(await loadConfig(await file('cut-eol.yaml', numberLast), { env: {} }))),
        { cache: { type: 'memory', max_cost: 5 } },
      );
    }
  });

  it('positions in a CR-only file name the right line (YAML, JSON, bytes that are not UTF-8)', async () => {
    // A syntax error: the same message (and position) as the LF file's, never the value.
    const bad = ['tracing:', '  exporter: none', `  service_name: "${SECRET}`, '  sample_rate: 1', ''];
    const crMessage = (
      await rejection(loadConfig(await file('eol-syntax.yaml', bad.join('\r')), { env: {} }))
    ).message;
    const lfMessage = (
      await rejection(loadConfig(await file('eol-syntax.yaml', bad.join('\n')), { env: {} }))
    ).message;
    assert.equal(crMessage, lfMessage);
    assert.match(crMessage, /at line [3-5], column/);
    const fields = await rejection(
      loadConfig(await file('eol-fields.yaml', 'tracing:\r  sample_rate: 5\r  bogus: 1\r'), { env: {} }),
    );
    assert.deepEqual(
      fields.issues.map((i) => i.path),
      ['tracing.sample_rate', 'tracing.bogus'],
    );
    const json = ['{', '"tracing": {"exporter": "none",', '"sample_rate": 0.5,}', '}'].join('\r');
    assert.match(
      (await rejection(loadConfig(await file('eol.json', json), { env: {} }))).message,
      /at line 3, column 20: a comma before a closing/,
    );
    const latin1 = Buffer.concat([
      Buffer.from('tracing:\r  exporter: none\r  service_name: '),
      Buffer.from([0xe9]),
      Buffer.from('\r'),
    ]);
    assert.match(
      (await rejection(loadConfig(await file('eol-latin1.yaml', latin1), { env: {} }))).message,
      /line 3 holds bytes that are not UTF-8/,
    );
    const nul = Buffer.from('tracing:\r\n  exporter: none\r  service_name: \0\n');
    assert.match(
      (await rejection(loadConfig(await file('eol-nul.yaml', nul), { env: {} }))).message,
      /line 3 holds a NUL byte/,
    );
  });
});
