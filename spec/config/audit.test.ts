/**
 * Replayed from a user's side (config audit): what a careless or hostile config file or
 * environment got past the loader. Each block failed on the code before its fix.
 *
 * - a tag is part of its value more often than not (`x-team: !kT9…`, `!https://u:pw@host`): only
 *   well-known tag names are shown, never the rest;
 * - every problem of a file is reported at once: YAML/JSON structure (duplicate keys, unknown tags,
 *   reserved names, undefined aliases), every environment variable's problems, and the schema's;
 * - a text field set from the environment gets the text as written: no trimming, no folding of a
 *   multi-line PEM, no mapping made of `a: b`, no broken alias made of `*abc`;
 * - blank lines and comments are not values: a long "empty" file is empty;
 * - stray text and extra documents are refused before the whole stream is composed;
 * - every file a config names that cannot be read is reported at once, before anything is built,
 *   with its own path (a tiered L2's files are `cache.l2.tls.…`, not `cache.tls.…`);
 * - a UTF-16 file without byte order mark (or a binary one) is refused as such, not read as text;
 * - parseConfig with `env` and a function in the object: a ConfigError, not a DOMException quoting
 *   the function's source;
 * - a private key's base64 body pasted into `key_file` (one short line, no PEM markers) is not shown;
 * - the loaders' own options are checked: a typo (`enviroment`) would read `process.env` instead,
 *   a number in `env` crashed with a TypeError, `envPrefix: ''` read every variable as an override;
 * - the original plan's `cache: {type: ristretto, …}` says that it is `type: memory` here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAppFromConfig, loadConfig, loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

function failure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

const load = (text: string, env: Record<string, string> = {}, format: 'yaml' | 'json' = 'yaml') =>
  loadConfigFromText(text, { env, format });
const fail = (text: string, env: Record<string, string> = {}, format: 'yaml' | 'json' = 'yaml') =>
  failure(() => load(text, env, format));
/** Everything a caller can see of an error. */
const shown = (err: ConfigError) =>
  `${err.message}\n${JSON.stringify(err.issues)}\n${String(err.stack)}\n${String((err.cause as Error | undefined)?.message)}`;
const paths = (err: ConfigError) => err.issues.map((i) => i.path);

describe('config audit: a YAML tag is not shown unless it is a well-known one', () => {
  const cases: [string, string, string][] = [
    [
      'a header value starting with "!"',
      'tracing:\n  headers:\n    x-honeycomb-team: !kT9x2S3CR3T\n',
      'tracing.headers.x-honeycomb-team',
    ],
    [
      'a DSN header',
      'tracing:\n  headers:\n    uptrace-dsn: !https://S3CR3T@api.uptrace.dev/1\n',
      'tracing.headers.uptrace-dsn',
    ],
    [
      'an endpoint with credentials',
      'tracing:\n  endpoint: !https://user:S3CR3T@collector:4318\n',
      'tracing.endpoint',
    ],
    ['an attribute', 'tracing:\n  attributes:\n    db: !S3CR3T\n', 'tracing.attributes.db'],
    ['a verbatim tag', 'tracing:\n  headers:\n    x: !<tag:S3CR3T> b\n', 'tracing.headers.x'],
    [
      'a %TAG handle',
      '%TAG !e! tag:S3CR3T:\n---\ntracing:\n  headers:\n    x: !e!y b\n',
      'tracing.headers.x',
    ],
    ['a tag on a key', 'tracing:\n  headers:\n    !S3CR3T x: b\n', 'tracing.headers.x'],
  ];
  for (const [what, text, path] of cases) {
    it(`${what}: the path, never the tag`, () => {
      const err = fail(text);
      assert.deepEqual(paths(err), [path]);
      assert.match(err.issues[0]!.message, /uses a YAML tag, which is not supported/);
      assert.doesNotMatch(shown(err), /S3CR3T/);
    });
  }

  it('an environment value with such a tag: the variable, never the tag', () => {
    const err = fail('', { HYPERION__TRACING__HEADERS__X_TEAM: '!kT9x2S3CR3T' });
    assert.match(err.message, /set by environment variable HYPERION__TRACING__HEADERS__X_TEAM/);
    assert.doesNotMatch(shown(err), /S3CR3T/);
  });

  it('well-known tags are still named', () => {
    assert.match(fail('tracing:\n  service_name: !include name.txt\n').message, /YAML tag `!include`/);
    assert.match(fail('tracing:\n  service_name: !!binary aGk=\n').message, /YAML tag `!!binary`/);
    assert.match(fail('tracing:\n  attributes: !!set {a, b}\n').message, /YAML tag `!!set`/);
    assert.match(fail('tracing:\n  service_name: !Ref Name\n').message, /YAML tag `!Ref`/);
  });
});

describe('config audit: every problem of a file is reported at once', () => {
  it('a duplicate key, and the bad fields elsewhere in the file', () => {
    const err = fail('tracing: {sample_rate: 2, exporter: x}\nservice: {name: a}\nservice: {name: b}\n');
    assert.deepEqual(paths(err), ['service', 'tracing.exporter', 'tracing.sample_rate']);
    assert.match(err.message, /1 problem\(s\) in the YAML, 2 invalid field\(s\)/);
  });

  it('an unknown tag, and the bad fields elsewhere (not the tagged field twice)', () => {
    const err = fail('service: {name: !env NAME}\ntracing: {sample_rate: 2}\n');
    assert.deepEqual(paths(err), ['service.name', 'tracing.sample_rate']);
    assert.match(err.issues[0]!.message, /YAML tag `!env`/);
  });

  it('a duplicate key in JSON, and the bad fields elsewhere', () => {
    const err = fail(
      '{"tracing": {"sample_rate": 2}, "service": {"name": "a"}, "service": {"name": "b"}}',
      {},
      'json',
    );
    assert.deepEqual(paths(err), ['service', 'tracing.sample_rate']);
    assert.match(err.message, /1 problem\(s\) in the JSON, 1 invalid field\(s\)/);
  });

  it('every reserved key name, not only the first', () => {
    const err = fail('tracing: {attributes: {__proto__: 1}}\nmetrics: {default_labels: {constructor: x}}\n');
    assert.deepEqual(paths(err).sort(), [
      'metrics.default_labels.constructor',
      'tracing.attributes.__proto__',
    ]);
    const json = fail('{"tracing": {"attributes": {"__proto__": 1, "prototype": 2}}}', {}, 'json');
    assert.deepEqual(paths(json).sort(), ['tracing.attributes.__proto__', 'tracing.attributes.prototype']);
  });

  it('an alias without its anchor: the path, never the alias name, and the rest of the file', () => {
    const err = fail('cache: {type: redis, password: *S3CR3T}\ntracing: {sample_rate: 2}\n');
    assert.deepEqual(paths(err), ['cache.password', 'tracing.sample_rate']);
    assert.match(err.issues[0]!.message, /alias \(\*name\) whose anchor \(&name\) is not defined before it/);
    assert.doesNotMatch(shown(err), /S3CR3T/);
    // An alias before its anchor is one too.
    assert.deepEqual(paths(fail('tracing: {exporter: *m}\nx: &m memory\n')), ['tracing.exporter', 'x']);
    // An anchor used after it is fine.
    assert.deepEqual(load('service: {name: &n users}\ntracing: {service_name: *n}\n').tracing, {
      service_name: 'users',
    });
  });

  it('a YAML 1.1 merge key says so, with its path', () => {
    const err = fail('defaults: &d {exporter: memory}\ntracing:\n  <<: *d\n');
    assert.deepEqual(paths(err), ['tracing.<<', 'defaults']);
    assert.match(err.issues[0]!.message, /YAML 1\.1 merge key/);
  });

  it('every environment variable with a problem, and the file’s bad fields', () => {
    const err = fail('tracing: {sample_rate: 2}\n', {
      HYPERION__CACHE__PASSWORD: '!vault S3CR3T',
      HYPERION__TRACING__HEADERS: '{a: 1, a: 2}',
      HYPERION____X: '1',
      HYPERION__METRICS__PORT: '99999',
    });
    // The environment's own problems first (by variable name), then the schema's.
    assert.deepEqual(paths(err).slice(0, 3), ['cache.password', 'tracing.headers.a', 'HYPERION____X']);
    assert.deepEqual(paths(err).slice(3).sort(), ['metrics.port', 'tracing.sample_rate']);
    const at = (path: string) => err.issues.find((i) => i.path === path)!.message;
    assert.match(at('cache.password'), /set by environment variable HYPERION__CACHE__PASSWORD/);
    assert.match(at('tracing.headers.a'), /set by environment variable HYPERION__TRACING__HEADERS/);
    assert.match(at('metrics.port'), /set by environment variable HYPERION__METRICS__PORT/);
    assert.match(
      err.message,
      /3 problem\(s\) in environment variables, 2 invalid field\(s\) \(1 from environment variables\)/,
    );
    assert.doesNotMatch(shown(err), /S3CR3T/);
  });

  it('parseConfig: reserved names and the bad fields together, the object left as it was', () => {
    const raw = JSON.parse('{"tracing": {"sample_rate": 2, "attributes": {"__proto__": 1}}}');
    const err = failure(() => parseConfig(raw));
    assert.deepEqual(paths(err), ['tracing.attributes.__proto__', 'tracing.sample_rate']);
    assert.ok(Object.hasOwn(raw.tracing.attributes, '__proto__'));
  });
});

describe('config audit: a text field set from the environment gets the text as written', () => {
  const password = (value: string) =>
    (load('cache: {type: redis}\n', { HYPERION__CACHE__PASSWORD: value }).cache as { password?: unknown })
      .password;

  for (const value of [
    ' leading and trailing spaces ',
    'tab\t',
    'two\nlines',
    'user: pass',
    '- dash first',
    '? question first',
    '*star-first',
    '[bracketed]',
    '{braced}',
  ]) {
    it(`${JSON.stringify(value)} stays ${JSON.stringify(value)}`, () => {
      assert.equal(password(value), value);
    });
  }

  it('quoted, block and tagged values are YAML on purpose and keep their YAML meaning', () => {
    assert.equal(password('"!s3cret"'), '!s3cret');
    assert.equal(password("' spaced '"), ' spaced ');
    assert.equal(password('|\n  block\n'), 'block\n');
    assert.equal(password('!!str 007'), '007');
  });

  it('a field that refuses the text as written keeps the YAML value (a host name, a duration)', () => {
    const c = load('', {
      HYPERION__METRICS__HOST: ' 10.0.0.5\n',
      HYPERION__TRACING__BATCH__SCHEDULED_DELAY: '5000',
      HYPERION__METRICS__DEFAULT_LABELS__VERSION: ' 1.10 ',
    });
    assert.equal(c.metrics?.host, '10.0.0.5');
    assert.equal(c.tracing?.batch?.scheduled_delay, 5000);
    assert.deepEqual(c.metrics?.default_labels, { version: ' 1.10 ' });
  });

  it('a line break is never folded into a space to make a value pass (a header value)', () => {
    const err = fail('', { HYPERION__TRACING__HEADERS__X_TEAM: 'abc\ndef' });
    assert.deepEqual(paths(err), ['tracing.headers.x_team']);
    assert.match(err.issues[0]!.message, /set by environment variable HYPERION__TRACING__HEADERS__X_TEAM/);
  });

  it('a multi-line PEM keeps its line breaks', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBaaaa\nbbbb==\n-----END CERTIFICATE-----\n';
    const c = load('cache: {type: redis}\n', { HYPERION__CACHE__TLS__CA: pem });
    assert.equal((c.cache as { tls?: { ca?: string } }).tls?.ca, pem);
  });

  describe('with real certificates', { skip: skipOpenssl() }, () => {
    let pki: TestPki;
    before(async () => {
      pki = await createTestPki();
    });
    after(() => pki?.remove());

    it('inline cert and key from the environment load (the PEM check passes)', () => {
      const c = load('cache: {type: redis}\n', {
        HYPERION__CACHE__TLS__CA: pki.ca.certPem,
        HYPERION__CACHE__TLS__CERT: pki.client.certPem,
        HYPERION__CACHE__TLS__KEY: pki.client.keyPem,
      });
      const tls = (c.cache as { tls?: { cert?: string; key?: string } }).tls;
      assert.equal(tls?.cert, pki.client.certPem);
      assert.equal(tls?.key, pki.client.keyPem);
    });
  });
});

describe('config audit: layout is not content', () => {
  it('a file of 100 001 blank lines, or comment lines, means all defaults', () => {
    assert.deepEqual(load('\n'.repeat(100_001)), {});
    assert.deepEqual(load('# note\n'.repeat(100_001)), {});
    assert.deepEqual(load(`${'# note\n'.repeat(100_001)}service: {name: a}\n`), { service: { name: 'a' } });
  });

  it('stray brackets and extra documents are refused as what they are', () => {
    assert.match(fail('{}'.repeat(200_000)).message, /not valid YAML at line 1, column \d+: unexpected text/);
    assert.match(fail(']\n'.repeat(200_000)).message, /not valid YAML at line 1, column 1: unexpected text/);
    assert.match(
      fail('---\n'.repeat(200_000)).message,
      /holds more than one YAML document \(a second one starts at line 2, column 1\)/,
    );
  });
});

describe('config audit: every unreadable file is reported at once, with its own path', () => {
  const missing = '/nonexistent-hyperion-audit';
  it('across sections and within one (seven files, seven issues), before anything is built', async () => {
    const config = load(
      [
        `tracing: {exporter: otlp, endpoint: "https://127.0.0.1:1/v1/traces", tls: {ca_file: ${missing}/ca.pem}}`,
        `metrics: {port: 0, auth: {bearer_token_file: ${missing}/token}, tls: {cert_file: ${missing}/m.pem, key_file: ${missing}/m.key}}`,
        `cache: {type: redis, min_idle_conns: 0, tls: {ca_file: ${missing}/r-ca.pem, cert_file: ${missing}/r.pem, key_file: ${missing}/r.key}}`,
      ].join('\n'),
    );
    const err = await createAppFromConfig(config).then(
      () => assert.fail('built'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(paths(err), [
      'tracing.tls.ca_file',
      'metrics.auth.bearer_token_file',
      'metrics.tls.cert_file',
      'metrics.tls.key_file',
      'cache.tls.ca_file',
      'cache.tls.cert_file',
      'cache.tls.key_file',
    ]);
    assert.match(err.message, /^7 files named in the config cannot be used/);
  });

  it('the Redis L2 of a tiered cache names its files under cache.l2', async () => {
    const config = load(
      `cache: {type: tiered, l1: {type: memory, max_cost: 1000}, l2: {type: redis, mode: standalone, min_idle_conns: 0, tls: {ca_file: ${missing}/ca.pem}, sentinel: {tls: {ca_file: ${missing}/s.pem}}}}`,
    );
    const err = await createAppFromConfig(config).then(
      () => assert.fail('built'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(paths(err), ['cache.l2.tls.ca_file', 'cache.l2.sentinel.tls.ca_file']);
  });
});

describe('config audit: NUL bytes mean the file is not UTF-8 text', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hyperion-config-audit-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('UTF-16 without byte order mark is refused as such, the content never shown', async () => {
    const p = join(dir, 'utf16.yaml');
    await writeFile(
      p,
      Buffer.from('service: {name: a}\ncache: {type: redis, password: S3CR3T}\n', 'utf16le'),
    );
    const err = await loadConfig(p, { env: {} }).then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /is not UTF-8 text: line 1 holds a NUL byte \(a UTF-16 file without byte order mark/,
    );
    assert.doesNotMatch(shown(err), /S3CR3T/);
  });

  it('a NUL byte further down names its line', async () => {
    const p = join(dir, 'nul.yaml');
    await writeFile(p, 'service: {name: a}\n\ncache: {type: redis, password: "x\u0000y"}\n');
    await assert.rejects(loadConfig(p, { env: {} }), /line 3 holds a NUL byte/);
  });
});

describe('config audit: parseConfig with environment overrides and values that are not data', () => {
  it('a function or symbol is a ConfigError for its field, its source never shown', () => {
    const raw = { cache: { type: 'redis', password: () => 'S3CR3T' }, tracing: { exporter: Symbol('x') } };
    const err = failure(() => parseConfig(raw, { env: { HYPERION__CACHE__DB: '1' } }));
    assert.deepEqual(paths(err).sort(), ['cache.password', 'tracing.exporter']);
    assert.doesNotMatch(shown(err), /S3CR3T/);
  });
});

describe('config audit: a key pasted into key_file is not echoed as a "path"', () => {
  // An EC P-256 private key's base64 body: one line of ~160 characters, no PEM marker.
  const body = 'MHcCAQEEIS3CR3TkeyMaterialxOpQ0v9Xq6Zb2q1nI8Kp4q1h3oAoGCCqGSM49AwEHoUQDQgAE1nY0Xw';
  for (const section of [
    `metrics: {tls: {cert_file: /nonexistent-hyperion/c.pem, key_file: ${body}}}`,
    `cache: {type: redis, min_idle_conns: 0, tls: {cert_file: /nonexistent-hyperion/c.pem, key_file: ${body}}}`,
    `tracing: {exporter: otlp, tls: {cert_file: /nonexistent-hyperion/c.pem, key_file: ${body}}}`,
  ]) {
    it(section.slice(0, section.indexOf(':')), async () => {
      const err = await createAppFromConfig(load(section)).then(
        () => assert.fail('built'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError);
      assert.ok(paths(err).some((p) => p.endsWith('tls.key_file')));
      assert.doesNotMatch(shown(err), /S3CR3T/);
      assert.match(err.message, /\/nonexistent-hyperion\/c\.pem/, 'a path still shows');
    });
  }
});

describe('config audit: the loading functions check their own options', () => {
  const rejects = (run: () => unknown, path: string, message: RegExp) => {
    const err = failure(run);
    assert.deepEqual(paths(err), [path]);
    assert.match(err.message, message);
  };
  it('an unknown option, a non-text env value, an empty prefix, an unknown format', async () => {
    const text = 'cache: {type: redis}\n';
    rejects(
      () => loadConfigFromText(text, { enviroment: {} } as never),
      'enviroment',
      /is not a known option/,
    );
    rejects(
      () => loadConfigFromText(text, { env: { HYPERION__CACHE__DB: 3 } as never }),
      'env.HYPERION__CACHE__DB',
      /has the wrong type/,
    );
    rejects(() => loadConfigFromText(text, { env: {}, envPrefix: '' }), 'envPrefix', /non-empty/);
    rejects(
      () => loadConfigFromText(text, { env: {}, format: 'JSON' as never }),
      'format',
      /accepted values/,
    );
    rejects(() => parseConfig({}, { env: 'HYPERION__X=1' as never }), 'env', /wrong type/);
    await assert.rejects(
      loadConfig('/nonexistent-hyperion/c.yaml', { envprefix: 'APP__' } as never),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(paths(e), ['envprefix']);
        assert.match(e.message, /did you mean `envPrefix`/);
        return true;
      },
    );
  });
  it('an env value is never shown', () => {
    const err = failure(() =>
      loadConfigFromText('', { env: { HYPERION__CACHE__PASSWORD: ['S3CR3T'] } as never }),
    );
    assert.doesNotMatch(shown(err), /S3CR3T/);
  });
});

describe('config audit: the original plan\u2019s cache type', () => {
  it('`type: ristretto` (the plan\u2019s YAML) is refused with the name to use', () => {
    const text =
      'cache:\n  type: ristretto\n  max_cost: 104857600\n  num_counters: 1000000\n  metrics: true\n';
    const err = fail(text);
    assert.deepEqual(paths(err), ['cache.type']);
    assert.match(err.issues[0]!.expected, /`ristretto` in the original plan is `memory` here/);
    const level = fail(
      'cache: {type: tiered, l1: {type: ristretto, max_cost: 1}, l2: {type: memory, max_cost: 1}}',
    );
    assert.match(level.issues[0]!.expected, /is `memory` here/);
    assert.deepEqual(load(text.replace('ristretto', 'memory')).cache, {
      type: 'memory',
      max_cost: 104857600,
      num_counters: 1000000,
      metrics: true,
    });
  });
});

describe('config audit: a Redis address is host:port, nothing in front of the host', () => {
  it('a credential before the host (`token@host:6379`) is refused, not printed as an address', () => {
    for (const address of [
      'S3CR3T@cache.internal:6379',
      'user:S3CR3T@h:6379',
      'h?S3CR3T:6379',
      'h#S3CR3T:1',
    ]) {
      const err = fail(`cache: {type: redis, addresses: ["${address}"]}`);
      assert.deepEqual(paths(err), ['cache.addresses.0'], address);
      assert.doesNotMatch(shown(err), /S3CR3T/, address);
    }
    const l2 = fail(
      'cache: {type: tiered, l1: {type: memory, max_cost: 1}, l2: {type: redis, addresses: ["t0k@h:1"]}}',
    );
    assert.deepEqual(paths(l2), ['cache.l2.addresses.0']);
  });
  it('names, IPv4, bracketed IPv6 and underscores are still addresses', () => {
    const addresses = [
      'localhost:6379',
      'redis-1.cache_internal.example:7000',
      '10.0.0.5:6379',
      '[::1]:6379',
    ];
    const config = load(`cache: {type: redis, mode: cluster, addresses: ${JSON.stringify(addresses)}}`);
    assert.deepEqual((config.cache as { addresses: string[] }).addresses, addresses);
  });
});

describe('config audit: two environment variables for one field', () => {
  it('names differing only in case (read in lower case) are an error naming both, never a value', () => {
    const err = fail('tracing: {exporter: none}', {
      HYPERION__TRACING__SAMPLE_RATE: '0.5',
      HYPERION__tracing__sample_rate: '0.7',
      HYPERION__CACHE__PASSWORD: 'S3CR3T-1',
      HYPERION__Cache__Password: 'S3CR3T-2',
      HYPERION__CACHE__TYPE: 'redis',
    });
    assert.deepEqual(paths(err).sort(), ['HYPERION__Cache__Password', 'HYPERION__tracing__sample_rate']);
    assert.match(
      err.message,
      /HYPERION__tracing__sample_rate: sets tracing\.sample_rate as HYPERION__TRACING__SAMPLE_RATE does/,
    );
    assert.match(
      err.message,
      /HYPERION__Cache__Password: sets cache\.password as HYPERION__CACHE__PASSWORD does/,
    );
    assert.doesNotMatch(shown(err), /S3CR3T/);
  });
  it('a mapping and a field inside it are still one replace and one set (the field wins)', () => {
    const config = load('tracing: {exporter: none}', {
      HYPERION__TRACING__HEADERS: '{authorization: a, x-team: b}',
      HYPERION__TRACING__HEADERS__AUTHORIZATION: 'c',
    });
    assert.deepEqual(
      { ...(config.tracing as { headers: object }).headers },
      { authorization: 'c', 'x-team': 'b' },
    );
  });
});
