/**
 * A config file is not a template: `${NAME}` in a value is never substituted. Before, such a
 * value was taken as written without a word — the Redis password `${REDIS_PASSWORD}`, the key
 * prefix `${APP}:` (every app sharing one keyspace), the header `Bearer ${TOKEN}`. Now each is an
 * error with its path and the variable that sets the field, in YAML and JSON files alike; a value
 * set by an environment variable is not checked (it is the way to set such a field).
 */
/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: the placeholders are the file contents under test */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const fails = async (run: () => unknown): Promise<ConfigError> => {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('accepted');
};

describe('config: ${NAME} placeholders in a file', () => {
  it('are errors with their paths and the variable to set instead, in YAML and JSON files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hyperion-placeholders-'));
    dirs.push(dir);
    const yaml = join(dir, 'app.yaml');
    await writeFile(
      yaml,
      [
        'cache:',
        '  type: redis',
        '  addresses: ["${REDIS_HOST}:6379"]',
        '  password: ${REDIS_PASSWORD}',
        '  key_prefix: "${APP:-users}:"',
        'tracing:',
        '  headers: { authorization: "Bearer ${OTLP_TOKEN}" }',
        '  attributes: { price: "$5 {x} ${ not one" }',
        '',
      ].join('\n'),
    );
    const err = await fails(() => loadConfig(yaml, { env: { REDIS_PASSWORD: 'pw', APP: 'a' } }));
    assert.deepEqual(
      err.issues.map((i) => [i.path, i.expected.replace(/.* variable /, '')]).sort(),
      [
        ['cache.addresses.0', 'HYPERION__CACHE__ADDRESSES (the whole list)'],
        ['cache.key_prefix', 'HYPERION__CACHE__KEY_PREFIX'],
        ['cache.password', 'HYPERION__CACHE__PASSWORD'],
        ['tracing.headers.authorization', 'HYPERION__TRACING__HEADERS__AUTHORIZATION'],
      ],
      err.message,
    );
    for (const i of err.issues) assert.match(i.message, /not substituted/);

    const json = join(dir, 'app.json');
    await writeFile(json, '{"cache": {"type": "memory", "max_cost": 64, "default_ttl": "${TTL}"}}');
    const inJson = await fails(() => loadConfig(json, { env: {} }));
    assert.deepEqual(
      inJson.issues.map((i) => i.path),
      ['cache.default_ttl'],
      'reported once (not again as a bad duration)',
    );
  });

  it('a value set by an environment variable is taken as it is', () => {
    const config = loadConfigFromText('cache: { type: redis, addresses: ["r:6379"] }\n', {
      env: { HYPERION__CACHE__PASSWORD: 'pa${ss}word', HYPERION__CACHE__KEY_PREFIX: '${x}:' },
    });
    const cache = config.cache as { password?: string; key_prefix?: string };
    assert.equal(cache.password, 'pa${ss}word');
    assert.equal(cache.key_prefix, '${x}:');
  });
});

describe('config: ${NAME} placeholders with another override prefix', () => {
  it('name the variable with that prefix', async () => {
    const err = await fails(() =>
      loadConfigFromText('cache: { type: redis, password: "${PW}" }\n', { env: {}, envPrefix: 'APP__' }),
    );
    assert.deepEqual(
      err.issues.map((i) => i.expected.replace(/.* variable /, '')),
      ['APP__CACHE__PASSWORD'],
    );
  });
});

describe('config: the file’s own problems are listed in the file’s order', () => {
  // Found from outside: the placeholders of a file were listed last key first (`cache.username`
  // before `tracing.service_name`), and with more than 100 of them "the first 100 listed" were
  // the last 100; unknown tags and reserved names deeper down came in the same reversed order.
  it('placeholders, tags and reserved names, in YAML and JSON', async () => {
    const paths = async (text: string, format: 'yaml' | 'json' = 'yaml') =>
      (await fails(() => loadConfigFromText(text, { env: {}, format }))).issues.map((i) => i.path);
    assert.deepEqual(
      await paths(
        'tracing:\n  service_name: "${A}"\n  attributes: {k1: "${X}", k2: "${Y}"}\ncache: {type: redis, password: "${P}", username: "${U}"}\n',
      ),
      [
        'tracing.service_name',
        'tracing.attributes.k1',
        'tracing.attributes.k2',
        'cache.password',
        'cache.username',
      ],
    );
    assert.deepEqual(
      await paths(
        'tracing:\n  headers: {a: !x 1, b: !y 2}\n  attributes: {c: !z 3}\n  propagators: [tracecontext, !w b3]\n',
      ),
      ['tracing.headers.a', 'tracing.headers.b', 'tracing.attributes.c', 'tracing.propagators.1'],
    );
    assert.deepEqual(
      await paths(
        '{"tracing": {"attributes": {"__proto__": 1}}, "metrics": {"default_labels": {"constructor": "x"}}}',
        'json',
      ),
      ['tracing.attributes.__proto__', 'metrics.default_labels.constructor'],
    );
    const many = `tracing:\n  attributes:\n${Array.from({ length: 150 }, (_, i) => `    k${i}: "\${X}"`).join('\n')}\n`;
    const listed = await paths(many);
    assert.equal(listed.length, 100);
    assert.equal(listed[0], 'tracing.attributes.k0');
    assert.equal(listed[99], 'tracing.attributes.k99');
  });

  // A key is no more substituted than a value: `${ATTR}: x` under attributes loaded as the
  // attribute named "${ATTR}", without a word.
  it('in a key are errors too, in YAML and JSON, and the rest of the file is still checked', async () => {
    const yaml = await fails(() =>
      loadConfigFromText(
        'tracing:\n  attributes:\n    ${ATTR}: x\n    team.${TEAM}: y\n    ok: z\n  sample_rate: 2\n',
        { env: {} },
      ),
    );
    assert.deepEqual(
      yaml.issues.map((i) => [i.path, i.received]),
      [
        ['tracing.attributes.…', 'a key with a ${…} placeholder'],
        ['tracing.attributes.team.…', 'a key with a ${…} placeholder'],
        ['tracing.sample_rate', 'a number'],
      ],
    );
    assert.match(yaml.issues[0]!.message, /is a key holding a \$\{…\} placeholder/);
    const json = await fails(() =>
      loadConfigFromText('{"metrics": {"default_labels": {"${LABEL}": "v"}}}', { env: {}, format: 'json' }),
    );
    assert.deepEqual(
      json.issues.map((i) => i.path),
      ['metrics.default_labels.…'],
    );
    // Set by a variable, a key is taken as written (a variable is the way to pass `${`).
    const config = loadConfigFromText('tracing: {}\n', {
      env: { HYPERION__TRACING__ATTRIBUTES: '{"${A}": 1}' },
    });
    assert.deepEqual(config.tracing?.attributes, { '${A}': 1 });
  });
});
