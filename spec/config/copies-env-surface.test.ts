/**
 * Config defects found by an outside-in audit (each test failed before its fix): a spread copy of
 * a loaded section printed its password with no way to print it redacted, a `HYPERION_` variable
 * with a single underscore was ignored without a word, and `hyperion/config` exported helpers its
 * page never mentions.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import * as configModule from '../../lib/config/index.js';
import { loadConfigFromText, redactConfig } from '../../lib/config/index.js';

const PASSWORD = 'S3CRET-spread-password-1';
const BEARER = 'S3CRET-spread-bearer-2';
const USERINFO = 'S3CRET-spread-userinfo-3';

const TEXT = `
cache:
  type: redis
  addresses: ["127.0.0.1:6379"]
  password: ${PASSWORD}
  tls: { ca_file: /etc/ca.pem, key_passphrase: ${PASSWORD}, reject_unauthorized: false }
tracing:
  exporter: otlp
  endpoint: https://collector:${USERINFO}@otel.internal:4318/v1/traces
  headers: { authorization: "Bearer ${BEARER}" }
`;

const printed = (value: unknown) =>
  [
    inspect(value, { depth: Number.POSITIVE_INFINITY }),
    format('%o %O %j %s', value, value, value, value),
    JSON.stringify(value),
  ].join('\n');
const secretsIn = (text: string) => [PASSWORD, BEARER, USERINFO].filter((s) => text.includes(s));

/** Warnings emitted while `fn` runs (they are delivered on the next tick). */
async function warningsOf(fn: () => void): Promise<Error[]> {
  const seen: Error[] = [];
  const on = (w: Error) => seen.push(w);
  process.on('warning', on);
  try {
    fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

describe('config: copies of a loaded config', () => {
  it('redactConfig prints a spread copy (and anything else) without its secrets', () => {
    const config = loadConfigFromText(TEXT, { env: {} }) as unknown as Record<
      string,
      Record<string, unknown>
    >;
    const copies = [
      { ...config.cache, db: 2 },
      { ...config.tracing },
      Object.assign({}, config.cache),
      structuredClone(config.cache),
      { ...config, cache: { ...config.cache } },
      [{ ...config.cache }],
    ];
    for (const copy of copies) {
      const safe = redactConfig(copy);
      assert.deepEqual(secretsIn(printed(safe)), [], printed(safe));
    }
    const safe = redactConfig({ ...config.cache }) as Record<string, unknown>;
    assert.equal(safe.password, '[redacted]');
    assert.deepEqual(safe.addresses, ['127.0.0.1:6379']);
    assert.equal((safe.tls as Record<string, unknown>).reject_unauthorized, false);
    assert.equal((safe.tls as Record<string, unknown>).ca_file, '/etc/ca.pem');
    const tracing = redactConfig({ ...config.tracing }) as Record<string, unknown>;
    assert.equal(tracing.endpoint, 'https://collector:[redacted]@otel.internal:4318/v1/traces');
    // The copy itself and the loaded config are untouched; the copy still works as a copy.
    assert.equal(config.cache!.password, PASSWORD);
    // Cycles and a __proto__ key of a user's object are handled.
    const cyclic: Record<string, unknown> = { password: PASSWORD };
    cyclic.self = cyclic;
    assert.deepEqual(redactConfig(cyclic), { password: '[redacted]', self: '[…]' });
    const proto = JSON.parse(`{"__proto__": {"token": "${BEARER}"}}`);
    const out = redactConfig(proto) as object;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(secretsIn(JSON.stringify(out)), []);
  });
});

describe('config: HYPERION_ with a single underscore', () => {
  it('warns once, naming the HYPERION__ form that is read, never the value; other HYPERION_ names are left alone', async () => {
    let config: unknown;
    const warnings = await warningsOf(() => {
      config = loadConfigFromText('tracing: { sample_rate: 1 }\n', {
        env: {
          HYPERION_TRACING__SAMPLE_RATE: '0.25',
          HYPERION_CACHE_PASSWORD: PASSWORD,
          HYPERION_METRICS: 'x',
          HYPERION_REQUIRE_SERVICES: '1', // a tool's own variable: not ours
          HYPERION__LOGGING__LEVEL: 'warn',
        },
      });
    });
    assert.deepEqual(JSON.parse(JSON.stringify(config)), {
      logging: { level: 'warn' },
      tracing: { sample_rate: 1 },
    });
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_CONFIG_ENV_NAME');
    assert.deepEqual(ours.map((w) => /did you mean (\S+)\?/.exec(w.message)?.[1]).sort(), [
      'HYPERION__CACHE__PASSWORD',
      'HYPERION__METRICS__FIELD',
      'HYPERION__TRACING__SAMPLE_RATE',
    ]);
    for (const w of ours) assert.deepEqual(secretsIn(w.message), []);
    assert.ok(ours.every((w) => /environment variable HYPERION_\w+ is not read/.test(w.message)));
    // Once per name.
    const again = await warningsOf(() =>
      loadConfigFromText('', { env: { HYPERION_TRACING__SAMPLE_RATE: '0.25' } }),
    );
    assert.equal(again.filter((w) => (w as { code?: string }).code === 'HYPERION_CONFIG_ENV_NAME').length, 0);
    // A custom prefix: APP_CACHE__DB for APP__.
    const custom = await warningsOf(() =>
      loadConfigFromText('', { env: { APP_CACHE__DB: '1' }, envPrefix: 'APP__' }),
    );
    assert.match(custom.map((w) => w.message).join('\n'), /did you mean APP__CACHE__DB\?/);
  });
});

describe('config: the HYPERION__ prefix in another case', () => {
  it('warns once, naming the form that is read, never the value (it was ignored without a word)', async () => {
    let config: unknown;
    const warnings = await warningsOf(() => {
      config = loadConfigFromText('', {
        env: {
          hyperion__tracing__sample_rate: '0.25',
          Hyperion__Cache__Password: PASSWORD,
          hyperion__not_a_section: 'x', // not ours to judge
        },
      });
    });
    assert.deepEqual(JSON.parse(JSON.stringify(config)), {});
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_CONFIG_ENV_NAME');
    assert.deepEqual(ours.map((w) => /did you mean (\S+)\?/.exec(w.message)?.[1]).sort(), [
      'HYPERION__CACHE__PASSWORD',
      'HYPERION__TRACING__SAMPLE_RATE',
    ]);
    for (const w of ours) {
      assert.deepEqual(secretsIn(w.message), []);
      assert.match(w.message, /case-sensitive/);
    }
  });
});

describe('config: the exported surface is the documented one', () => {
  it('every runtime export of hyperion/config is named in lib/config/README.md, and no internal helper is exported', async () => {
    const readme = await readFile(new URL('../../lib/config/README.md', import.meta.url), 'utf8');
    const names = Object.keys(configModule).sort();
    const undocumented = names.filter((n) => !readme.includes(`\`${n}\``));
    assert.deepEqual(undocumented, [], `exported but not documented: ${undocumented.join(', ')}`);
    for (const internal of ['applyEnvOverrides', 'mergeEnvOverrides', 'parseConfigText', 'validateConfig'])
      assert.equal(internal in configModule, false, `${internal} is still exported`);
  });
});
