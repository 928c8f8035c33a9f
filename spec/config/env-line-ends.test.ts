/**
 * Environment values end their lines as a file does: YAML 1.2 takes a lone CR as a line break. An
 * env file saved with CRLF line ends and read by a shell (`set -a; . ./app.env`) leaves a CR at the
 * end of every value, and such a value was read as text: `HYPERION__METRICS__PORT=9464<CR>` was
 * refused as "a number in quotes" (no quote anywhere), `[redis-1:6379]<CR>` as text, while the same
 * values ending with LF or CRLF loaded. A file already read them so (encoding.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';

const FILE = 'service: { name: users }\ntracing: {}\nmetrics: {}\ncache: { type: redis }\n';

/** The loaded config with `HYPERION__<name>=<value>`, or the error's message. */
function load(name: string, value: string): unknown {
  try {
    return loadConfigFromText(FILE, { env: { [`HYPERION__${name}`]: value } });
  } catch (err) {
    return (err as Error).message;
  }
}

// Fields that take no text as written: the YAML reading of the value is what they get.
const TYPED: [string, string, unknown][] = [
  ['METRICS__PORT', '9464', 9464],
  ['TRACING__SAMPLE_RATE', '0.5', 0.5],
  ['TRACING__ENABLED', 'false', false],
  ['CACHE__DIAL_TIMEOUT', '5000', 5000],
  ['CACHE__DIAL_TIMEOUT', '5s', 5000],
  ['CACHE__ADDRESSES', '[redis-1:6379]', ['redis-1:6379']],
  ['TRACING__PROPAGATORS', '[tracecontext, b3]', ['tracecontext', 'b3']],
  ['TRACING__EXPORTER', 'zipkin', 'zipkin'],
  ['METRICS__HOST', '0.0.0.0', '0.0.0.0'],
];

const at = (config: unknown, name: string) =>
  name
    .toLowerCase()
    .split('__')
    .reduce((node: unknown, key) => (node as Record<string, unknown> | undefined)?.[key], config);

describe('an environment value ending with a CR', () => {
  it('reads as the same value ending with LF or CRLF, for fields taking numbers, booleans, lists or names', () => {
    for (const [name, value, expected] of TYPED) {
      for (const end of ['\r', '\n', '\r\n']) {
        const config = load(name, `${value}${end}`);
        assert.notEqual(typeof config, 'string', `${name}=${JSON.stringify(value + end)}: ${config}`);
        assert.deepEqual(at(config, name), expected, `${name}=${JSON.stringify(value + end)}`);
      }
    }
  });

  it('from a CRLF env file sourced by a shell, as a service is started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hyperion-env-crlf-'));
    try {
      const envFile = join(dir, 'app.env');
      await writeFile(
        envFile,
        'HYPERION__METRICS__PORT=9464\r\nHYPERION__TRACING__SAMPLE_RATE=0.25\r\nHYPERION__CACHE__ADDRESSES=[redis-1:6379]\r\n',
      );
      const shell = spawnSync('sh', ['-c', `set -a; . "${envFile}"; exec env`], { encoding: 'utf8' });
      assert.equal(shell.status, 0, shell.stderr);
      const env = Object.fromEntries(
        shell.stdout
          .split('\n')
          .filter((line) => line.startsWith('HYPERION__'))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      assert.equal(env.HYPERION__METRICS__PORT, '9464\r', 'the shell keeps the CR');
      const config = loadConfigFromText(FILE, { env });
      assert.equal(config.metrics?.port, 9464);
      assert.equal(config.tracing?.sample_rate, 0.25);
      assert.deepEqual((config.cache as { addresses?: unknown }).addresses, ['redis-1:6379']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a CR inside a value taken as text is kept, as a line break in it is', () => {
    const config = load('CACHE__PASSWORD', 'a\rb') as { cache: { password: string } };
    assert.equal(config.cache.password, 'a\rb');
    const key = load('CACHE__KEY_PREFIX', 'app:\r') as { cache: { key_prefix: string } };
    assert.equal(key.cache.key_prefix, 'app:\r');
  });
});
