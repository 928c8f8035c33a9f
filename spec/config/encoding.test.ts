/**
 * What the loader makes of bytes and JSON the YAML path already handles: duplicate keys in JSON,
 * a byte order mark, and files that are not UTF-8. Nothing is ever silently changed: a key given
 * twice, or a byte that is not UTF-8 (which decoding would turn into U+FFFD, inside a password for
 * instance), is a ConfigError with a position or path and without the value.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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
