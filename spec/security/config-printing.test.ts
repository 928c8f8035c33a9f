/**
 * Printing a loaded config shows no secret. `loadConfig` returns the passwords, tokens, OTLP
 * header values and key passphrases of the file and of `HYPERION__` overrides; logging the
 * effective config at start-up (`console.log`, `util.inspect`, a logger field, `JSON.stringify`)
 * printed them all. Now each shows `[redacted]` — in the whole config and in any section of it —
 * while the values stay readable as properties and the config's shape is unchanged.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import fc from 'fast-check';
import { loadConfig, loadConfigFromText, parseConfig, redactConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const S = {
  password: 'S3CRET-cfg-password-a1',
  sentinel: 'S3CRET-cfg-sentinel-b2',
  passphrase: 'S3CRET-cfg-passphrase-c3',
  bearer: 'S3CRET-cfg-bearer-d4',
  team: 'S3CRET-cfg-honeycomb-e5',
  metrics: 'S3CRET-cfg-metrics-f6',
  userinfo: 'S3CRET-cfg-userinfo-g7',
  env: 'S3CRET-cfg-env-h8',
};

const TEXT = `
service: { name: svc }
cache:
  type: redis
  mode: sentinel
  addresses: ["127.0.0.1:26379"]
  username: app
  password: ${S.password}
  sentinel: { master_name: m, password: ${S.sentinel} }
  tls: { ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem, key_passphrase: ${S.passphrase}, reject_unauthorized: false }
tracing:
  exporter: otlp
  endpoint: https://collector:${S.userinfo}@otel.internal:4318/v1/traces
  headers: { authorization: "Bearer ${S.bearer}", x-honeycomb-team: ${S.team} }
metrics:
  port: 0
  auth: { username: scraper, password: ${S.metrics} }
`;

function printed(value: unknown): string {
  return [
    inspect(value, { depth: Number.POSITIVE_INFINITY }),
    inspect(value, { showHidden: true }),
    format('%o %O %j %s', value, value, value, value),
    JSON.stringify(value),
    JSON.stringify({ config: value }),
  ].join('\n');
}

describe('printing a loaded config shows no secret', () => {
  it('loadConfig, loadConfigFromText and parseConfig, with a HYPERION__ override', async (t) => {
    const file = join(tmpdir(), `hyperion-printing-${process.pid}.yaml`);
    t.after(() => rm(file, { force: true }));
    await writeFile(file, TEXT);
    const env = { HYPERION__CACHE__PASSWORD: S.env };
    const configs = [
      await loadConfig(file, { env }),
      loadConfigFromText(TEXT, { env }),
      parseConfig({
        cache: { type: 'redis', password: S.password },
        tracing: { headers: { authorization: S.bearer } },
      }),
    ];
    for (const config of configs) {
      const c = config as unknown as Record<string, Record<string, unknown>>;
      const sections = [
        config,
        c.cache,
        c.cache?.sentinel,
        c.cache?.tls,
        c.tracing,
        c.tracing?.headers,
        c.metrics,
      ];
      for (const section of sections.filter((x) => x !== undefined)) {
        const text = printed(section);
        const found = Object.values(S).filter((s) => text.includes(s));
        assert.deepEqual(found, [], `printed: ${text.slice(0, 2000)}`);
      }
    }
    const [loaded] = configs as unknown as Record<string, Record<string, Record<string, unknown>>>[];
    // Still readable, and what is not secret still shows.
    assert.equal(loaded!.cache!.password, S.env);
    assert.equal(loaded!.tracing!.headers!.authorization, `Bearer ${S.bearer}`);
    const shown = inspect(loaded, { depth: 10 });
    assert.match(shown, /password: '\[redacted\]'/);
    assert.match(shown, /reject_unauthorized: false/);
    assert.match(shown, /key_file: '\/etc\/k\.pem'/);
    assert.match(shown, /https:\/\/collector:\[redacted\]@otel\.internal:4318\/v1\/traces/);
    // Copies and equality see the same fields as before.
    assert.deepEqual(Object.keys(loaded!.cache!).sort(), [
      'addresses',
      'mode',
      'password',
      'sentinel',
      'tls',
      'type',
      'username',
    ]);
    assert.deepStrictEqual(
      { ...loaded!.metrics },
      { port: 0, auth: { username: 'scraper', password: S.metrics } },
    );
  });
});

describe('printing a loaded config shows no key pasted where its file path belongs', () => {
  it('a PEM or a bare key body in key_file prints [redacted], as its error never shows it; a path still shows (found from outside)', () => {
    // The loader accepts any text as a path; the file is read only by createAppFromConfig, whose
    // error hides such a value. Printing the loaded config first (logging the effective config at
    // start-up, which lib/PRODUCTION.md calls safe) showed the private key.
    const body = 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgS3CRETkeyBody';
    const pem = `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
    const text = (keyFile: string, certFile = '/etc/c.pem') => `
cache:
  type: redis
  tls: { cert_file: ${JSON.stringify(certFile)}, key_file: ${JSON.stringify(keyFile)} }
metrics:
  port: 0
  tls: { cert_file: /etc/m.pem, key_file: ${JSON.stringify(keyFile)} }
`;
    for (const [keyFile, certFile] of [
      [pem, undefined],
      [body, undefined],
      ['/etc/k.pem', pem],
    ] as const) {
      const config = loadConfigFromText(text(keyFile, certFile), { env: {} }) as unknown as Record<
        string,
        Record<string, Record<string, unknown>>
      >;
      for (const shown of [printed(config), printed(config.cache!.tls), JSON.stringify(redactConfig(config))])
        assert.ok(!shown.includes(body), `printed: ${shown.slice(0, 1500)}`);
      // Still readable as given.
      assert.equal(config.cache!.tls!.key_file, keyFile);
    }
    const paths = inspect(loadConfigFromText(text('/etc/k.pem'), { env: {} }), { depth: 10 });
    assert.match(paths, /key_file: '\/etc\/k\.pem'/);
    assert.match(paths, /cert_file: '\/etc\/c\.pem'/);
    assert.match(
      inspect(loadConfigFromText(text(pem), { env: {} }), { depth: 10 }),
      /key_file: '\[redacted\]'/,
    );
  });
});

describe('printing a URL in a config shows none of its credentials', () => {
  const print = (endpoint: string) => {
    const config = loadConfigFromText(`tracing:\n  endpoint: ${JSON.stringify(endpoint)}\n`, { env: {} });
    const text = printed(config);
    // The URL is still the one given, for the tracer.
    assert.equal((config.tracing as { endpoint?: string }).endpoint, endpoint);
    return text;
  };

  it('a password holding "@", a user name alone, a secret query parameter', () => {
    // A URL parser ends the userinfo at the last "@" of the authority: the password is "p@SECRETpw1".
    assert.equal(new URL('https://user:p@SECRETpw1@otel.internal:4318/v1').password, 'p%40SECRETpw1');
    const cases: [string, RegExp][] = [
      [
        'https://user:p@SECRETpw1@otel.internal:4318/v1/traces',
        /https:\/\/user:\[redacted\]@otel\.internal:4318\/v1\/traces/,
      ],
      [
        'https://ghp_SECRETtoken2@otel.internal/v1/traces',
        /https:\/\/\[redacted\]@otel\.internal\/v1\/traces/,
      ],
      [
        'https://otel.internal/v1/traces?api_key=SECRETq3&region=eu',
        /\/v1\/traces\?api_key=\[redacted\]&region=eu/,
      ],
      ['https://otel.internal/v1/traces?region=eu&sig=SECRETsig4#top', /\?region=eu&sig=\[redacted\]#top/],
      ['https://a@b:SECRETpw5@otel.internal/v1', /https:\/\/a@b:\[redacted\]@otel\.internal\/v1/],
      // A token as the user name with an empty password (found from outside): it printed as
      // `https://SECRETtoken6:[redacted]@…`, the token shown.
      ['https://SECRETtoken6:@otel.internal/v1/traces', /https:\/\/\[redacted\]@otel\.internal\/v1\/traces/],
      ['https://:SECRETpw7@otel.internal/v1', /https:\/\/:\[redacted\]@otel\.internal\/v1/],
    ];
    for (const [url, shown] of cases) {
      const text = print(url);
      assert.doesNotMatch(text, /SECRET/, text);
      assert.match(text, shown);
    }
    // Nothing else changes: no credentials, no secret parameter, a "?" or "@" in the fragment.
    const plain = 'https://otel.internal:4318/v1/traces?region=eu#a@b?c';
    assert.match(print(plain), /https:\/\/otel\.internal:4318\/v1\/traces\?region=eu#a@b\?c/);
  });

  it('a URL the endpoint check accepts in a form other than scheme://… (found from outside)', () => {
    // The tracer's endpoint check (and its exporter) parse with the URL parser, which drops leading
    // and trailing spaces and control characters, and reads `https:/host` and `https:host` as
    // `https://host`. These loaded fine and printed the password as written, since the printing
    // looked for `scheme://` at the very start only.
    const cases: [string, RegExp][] = [
      [
        ' https://collector:SECRETa1@otel.internal:4318',
        /https:\/\/collector:\[redacted\]@otel\.internal:4318\//,
      ],
      [
        'https:/collector:SECRETa2@otel.internal:4318',
        /https:\/\/collector:\[redacted\]@otel\.internal:4318\//,
      ],
      [
        'https:collector:SECRETa3@otel.internal:4318',
        /https:\/\/collector:\[redacted\]@otel\.internal:4318\//,
      ],
      [
        '\thttps://SECRETa6@otel.internal/v1?token=SECRETa7',
        /https:\/\/\[redacted\]@otel\.internal\/v1\?token=\[redacted\]/,
      ],
    ];
    for (const [url, shown] of cases) {
      assert.ok(URL.canParse(url), url);
      const text = print(url);
      assert.doesNotMatch(text, /SECRET/, text);
      assert.match(text, shown);
    }
    // A tab or line break inside (which the URL parser drops) is refused now, and the refusal
    // shows no secret either.
    for (const url of [
      'ht\ttps://collector:SECRETa4@otel.internal',
      'https://collector:SEC\tRETa5@otel.internal',
      'https://otel.internal/v1?tok\nen=SECRETa8',
    ]) {
      assert.ok(URL.canParse(url), url);
      assert.throws(
        () => print(url),
        (e: Error) =>
          e instanceof ConfigError &&
          e.issues.some((i) => i.path === 'tracing.endpoint') &&
          !/SEC\t?RET/.test(`${e.message} ${inspect(e)}`),
        url,
      );
    }
  });

  it('any password a URL parser reads, whatever its characters (property)', () => {
    const char = fc.constantFrom(..."abcXYZ019-._~!$&'()*+,;=:@%".split(''));
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~'.split('')), maxLength: 8 }),
        fc.string({ unit: char, maxLength: 16 }),
        fc.string({ unit: char, maxLength: 6 }),
        (user, pw, tail) => {
          const url = `https://${user}:SECRET${pw}${tail}@otel.internal:4318/v1/traces?token=SECRET${tail}`;
          assert.ok(URL.canParse(url));
          assert.doesNotMatch(print(url), /SECRET/);
        },
      ),
      { numRuns: 300, seed: 16 },
    );
  });
});

describe('printing a list of a loaded config shows no secret', () => {
  it('a list under a secret-named field, or of URLs with credentials, printed alone (found from outside)', () => {
    const config = loadConfigFromText(
      `tracing:\n  attributes:\n    api_keys: [${S.bearer}, ${S.team}]\n    links: ["https://u:${S.userinfo}@h/x", "https://h/y"]\n`,
      { env: {} },
    );
    const attributes = config.tracing?.attributes as Record<string, unknown>;
    for (const list of [attributes.api_keys, attributes.links]) {
      const text = printed(list);
      const found = Object.values(S).filter((s) => text.includes(s));
      assert.deepEqual(found, [], `printed: ${text}`);
    }
    assert.equal(JSON.stringify(attributes.api_keys), '["[redacted]","[redacted]"]');
    assert.equal(JSON.stringify(attributes.links), '["https://u:[redacted]@h/x","https://h/y"]');
    // Still the values given, for the tracer; copies and equality unchanged.
    assert.deepStrictEqual(attributes.api_keys, [S.bearer, S.team]);
    assert.deepStrictEqual(
      [...(attributes.links as string[])],
      [`https://u:${S.userinfo}@h/x`, 'https://h/y'],
    );
    assert.equal(String(attributes.api_keys), `${S.bearer},${S.team}`);
    assert.match(inspect({ a: { b: config } }, { depth: 1 }), /\[Object\]/);
  });
});
