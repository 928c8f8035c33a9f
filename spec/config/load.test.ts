import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as v from 'valibot';
import { loadConfig } from '../../lib/config/index.js';
import {
  applyEnvOverrides,
  isSecretField,
  loadConfigFile,
  parseConfigText,
  validateConfig,
} from '../../lib/config/load.js';
import { duration, hostPort, parseDuration } from '../../lib/config/primitives.js';
import { ConfigError } from '../../lib/core/errors.js';

const schema = v.strictObject({
  cache: v.strictObject({
    password: v.optional(v.string()),
    addresses: v.array(hostPort),
    dial_timeout: v.optional(duration, 5000),
    db: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  tracing: v.optional(v.strictObject({ sample_rate: v.pipe(v.number(), v.minValue(0), v.maxValue(1)) })),
});

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function writeTemp(name: string, text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'hyperion-config-'));
  dirs.push(dir);
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

describe('config loading', () => {
  it('parses durations in the original YAML style', () => {
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('5 parsecs'), undefined);
    assert.equal(v.parse(duration, 1200), 1200);
  });

  it('loads YAML and JSON files and applies defaults', async () => {
    const y = await writeTemp('c.yaml', 'cache:\n  addresses: [localhost:6379]\n  dial_timeout: 2s\n');
    assert.deepEqual(await loadConfigFile(y, schema, { env: {} }), {
      cache: { addresses: ['localhost:6379'], dial_timeout: 2000 },
    });
    const j = await writeTemp('c.json', JSON.stringify({ cache: { addresses: ['[::1]:7000'] } }));
    assert.deepEqual(await loadConfigFile(j, schema, { env: {} }), {
      cache: { addresses: ['[::1]:7000'], dial_timeout: 5000 },
    });
  });

  it('reports every bad field with its path, expected shape and received type', async () => {
    const p = await writeTemp(
      'bad.yaml',
      'cache:\n  addresses: [localhost]\n  dial_timeout: soon\n  db: -1\n  colour: blue\ntracing:\n  sample_rate: "1"\n',
    );
    const err = await loadConfigFile(p, schema, { env: {} }).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'config_invalid');
    const paths = err.issues.map((i) => i.path).sort();
    assert.deepEqual(paths, [
      'cache.addresses.0',
      'cache.colour',
      'cache.db',
      'cache.dial_timeout',
      'tracing.sample_rate',
    ]);
    const rate = err.issues.find((i) => i.path === 'tracing.sample_rate')!;
    assert.equal(rate.received, 'text');
    assert.equal(rate.expected, 'a number');
    assert.match(err.message, /cache\.colour: is not a known field/);
  });

  it('never echoes the value of a secret field', () => {
    const err = (() => {
      try {
        validateConfig(schema, { cache: { addresses: [], password: 12345678 } });
      } catch (e) {
        return e as ConfigError;
      }
    })()!;
    assert.equal(err.issues[0]?.path, 'cache.password');
    assert.doesNotMatch(err.message, /12345678/);
    const pw = 'hunter2-secret-value';
    const err2 = (() => {
      try {
        validateConfig(v.object({ password: v.pipe(v.string(), v.minLength(100)) }), { password: pw });
      } catch (e) {
        return e as ConfigError;
      }
    })()!;
    assert.doesNotMatch(err2.message, /hunter2/);
    assert.doesNotMatch(JSON.stringify(err2.issues), /hunter2/);
  });

  it('recognises secret-like field names', () => {
    for (const s of [
      'password',
      'sentinel_password',
      'api_key',
      'auth_token',
      'Authorization',
      'client_secret',
      'key',
    ]) {
      assert.equal(isSecretField(s), true, s);
    }
    for (const s of ['key_prefix', 'addresses', 'service_name', 'max_cost'])
      assert.equal(isSecretField(s), false, s);
  });

  it('does not leak secrets through YAML syntax errors', () => {
    const err = (() => {
      try {
        parseConfigText('cache:\n  password: "s3cr3t\n  x: [', 'yaml', 'app.yaml');
      } catch (e) {
        return e as ConfigError;
      }
    })()!;
    assert.ok(err instanceof ConfigError);
    assert.doesNotMatch(err.message, /s3cr3t/);
    assert.doesNotMatch(String((err.cause as Error).message), /s3cr3t/);
  });

  it('applies HYPERION__ environment overrides with YAML-typed values', async () => {
    const merged = applyEnvOverrides(
      { cache: { addresses: ['a:1'] } },
      {
        HYPERION__CACHE__DB: '3',
        HYPERION__CACHE__ADDRESSES: '[b:2, c:3]',
        HYPERION__TRACING__SAMPLE_RATE: '0.25',
        OTHER: 'x',
      },
    );
    assert.deepEqual(merged, { cache: { addresses: ['b:2', 'c:3'], db: 3 }, tracing: { sample_rate: 0.25 } });
    const p = await writeTemp('e.yaml', 'cache:\n  addresses: [a:1]\n');
    const cfg = await loadConfigFile(p, schema, { env: { HYPERION__CACHE__DIAL_TIMEOUT: '1s' } });
    assert.equal(cfg.cache.dial_timeout, 1000);
  });

  it('reports an unreadable file as a ConfigError', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/hyperion.yaml', schema), (e: ConfigError) =>
      /cannot read config file .* ENOENT/.test(e.message),
    );
  });
});

describe('a config path given as a file: URL (found from outside)', () => {
  // `new URL('./app.json', import.meta.url)` is how an ES module names a file next to it, and
  // node:fs takes it: loadConfig read the file, then threw a bare TypeError from extname. A Buffer
  // did the same; other values were a ConfigError naming the fs error code.
  it('a file: URL is read like its path (.json by extension); any other value is a ConfigError', async () => {
    const p = await writeTemp('app.json', '{"service": {"name": "users"}}');
    assert.deepEqual(await loadConfig(pathToFileURL(p), { env: {} }), { service: { name: 'users' } });
    await assert.rejects(
      loadConfig(pathToFileURL(`${p}.missing`), { env: {} }),
      (e: ConfigError) =>
        e instanceof ConfigError && /cannot read config file .*\.missing: ENOENT/.test(e.message),
    );
    await assert.rejects(
      loadConfig(new URL('https://config.example/app.yaml'), { env: {} }),
      (e: ConfigError) => e instanceof ConfigError && /a config URL is a file: URL/.test(e.message),
    );
    for (const bad of [Buffer.from(p), 42, undefined])
      await assert.rejects(
        loadConfig(bad as unknown as string, { env: {} }),
        (e: ConfigError) =>
          e instanceof ConfigError && /the path must be text or a file: URL/.test(e.message),
      );
  });
});

describe('a config path given as a file: URL in text (found from outside)', () => {
  // `import.meta.resolve('./app.yaml')` and `new URL(…).href` give a file: URL as text. node:fs
  // took it for a relative path: ENOENT, "a relative path is read from the working directory".
  it('text starting with file:// is read as the URL it is (percent-encoding decoded, .json by extension)', async () => {
    const p = await writeTemp('app config.json', '{"service": {"name": "users"}}');
    const href = pathToFileURL(p).href;
    assert.match(href, /%20/);
    assert.deepEqual(await loadConfig(href, { env: {} }), { service: { name: 'users' } });
    assert.deepEqual(await loadConfig(href.replace(/^file:/, 'FILE:'), { env: {} }), {
      service: { name: 'users' },
    });
    await assert.rejects(
      loadConfig(`${href}.missing`, { env: {} }),
      (e: ConfigError) =>
        e instanceof ConfigError &&
        e.message === `cannot read config file ${p}.missing: ENOENT` &&
        (e.cause as NodeJS.ErrnoException).code === 'ENOENT',
    );
    await assert.rejects(
      loadConfig('file://[bad/app.yaml', { env: {} }),
      (e: ConfigError) => e instanceof ConfigError && /not a valid file: URL/.test(e.message),
    );
  });
});

describe('a config path that is not a file', () => {
  it('a named pipe with no writer is refused at once (opening it waited for a writer for ever)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hyperion-fifo-'));
    dirs.push(dir);
    const fifo = join(dir, 'app.yaml');
    const made = spawnSync('mkfifo', [fifo]);
    assert.equal(made.status, 0, String(made.stderr));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      loadConfigFile(fifo, schema, { env: {} }).then(
        () => 'loaded',
        (e: unknown) => e,
      ),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still waiting after 5 s'), 5000);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === 'still waiting after 5 s') {
      // Free the blocked open (a writer arrives and leaves) so that this process can end.
      const w = await open(fifo, 'w');
      await w.close();
    }
    assert.ok(outcome instanceof ConfigError, String(outcome));
    assert.match(outcome.message, /cannot read config file .*: it is a named pipe \(FIFO\), not a file/);
  });
});

describe('a .json file that is not JSON', () => {
  // V8 names no position for an unexpected token, so YAML saved as app.json got only
  // "not valid JSON", with nothing pointing at the cause.
  it('YAML text in a .json file says what a JSON config starts with and how to read YAML', async () => {
    const p = await writeTemp('app.json', 'cache:\n  password: S3CRET-json-yaml\n  addresses: ["a:1"]\n');
    await assert.rejects(loadConfigFile(p, schema, { env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /not valid JSON \(a JSON config is one object, starting with "\{"; for YAML, name the file \.yaml or pass format: "yaml"\)/,
      );
      assert.doesNotMatch(e.message, /S3CRET/);
      return true;
    });
    // JSON that starts like JSON keeps the position only.
    const q = await writeTemp('b.json', '{"cache": {"addresses": ["a:1"] "db": 1}}');
    await assert.rejects(loadConfigFile(q, schema, { env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /not valid JSON at line 1, column \d+$/);
      return true;
    });
  });

  // Found from outside: a comment or a trailing comma (which JSONC/JSON5 editors accept) gave
  // only "not valid JSON at line 2, column 3", nothing saying what JSON does not allow there.
  it('a comment, a trailing comma or single quotes are named (never the text)', async () => {
    const cases: [string, RegExp][] = [
      [
        '{\n  // S3CRET-c1\n  "cache": {}\n}',
        /at line 2, column 3: JSON has no comments \(YAML has: .*\.yaml/,
      ],
      ['{"cache": {} /* S3CRET-c2 */}', /at line 1, column 14: JSON has no comments/],
      [
        '{"cache": {"password": "S3CRET-c3",\n  }\n}',
        /at line 2, column 3: a comma before a closing `\}` or `\]` \(JSON has no trailing commas\)$/,
      ],
      ["{'cache': {}}", /at line 1, column 2: JSON text is in double quotes$/],
    ];
    for (const [text, shown] of cases) {
      const p = await writeTemp('c.json', text);
      await assert.rejects(loadConfigFile(p, schema, { env: {} }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, shown);
        assert.doesNotMatch(e.message, /S3CRET/);
        return true;
      });
    }
  });
});
