/**
 * A variable naming a field inside a value that is not a mapping (`tracing: none` in the file,
 * HYPERION__TRACING__SAMPLE_RATE set) replaced that value with a mapping holding its field,
 * without a word: the file's own error went unreported, and `tracing: none` — meant as "no
 * tracing" — loaded as tracing on. Such a value is reported at its path when the field refuses it
 * on its own; a value the field takes (`tls: true`) is still extended by the variable.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

let dir: string | undefined;
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

async function loadFile(text: string, env: Record<string, string>) {
  dir ??= await mkdtemp(join(tmpdir(), 'hyperion-env-scalar-'));
  const path = join(dir, 'app.yaml');
  await writeFile(path, text);
  return loadConfig(path, { env });
}

async function rejection(run: () => Promise<unknown>): Promise<ConfigError> {
  const err = await run().then(
    (c) => new Error(`loaded: ${JSON.stringify(c)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  return err;
}

describe('config: a variable naming a field inside a value that is not a mapping', () => {
  it('`tracing: none` is reported, not turned into tracing on', async () => {
    const err = await rejection(() =>
      loadFile('service: {name: users}\ntracing: none\n', { HYPERION__TRACING__SAMPLE_RATE: '0.5' }),
    );
    const issue = err.issues.find((i) => i.path === 'tracing');
    assert.ok(issue, JSON.stringify(err.issues));
    assert.match(
      issue.message,
      /is not a mapping, so environment variable HYPERION__TRACING__SAMPLE_RATE cannot set a field inside it/,
    );
    assert.equal(issue.received, 'text');
  });

  it('every such value is reported, whatever its type, with the file read in full', async () => {
    const err = await rejection(() =>
      loadFile('metrics: false\ncache: memory\nlogging: {level: loud}\n', {
        HYPERION__METRICS__PORT: '9464',
        HYPERION__CACHE__TYPE: 'memory',
        HYPERION__CACHE__MAX_COST: '1000',
      }),
    );
    const byPath = new Map(err.issues.map((i) => [i.path, i]));
    assert.equal(byPath.get('metrics')?.received, 'true/false');
    assert.match(byPath.get('cache')?.message ?? '', /environment variable HYPERION__CACHE__/);
    assert.ok(byPath.has('logging.level'), JSON.stringify(err.issues));
  });

  it('a value set by an earlier variable, and an object given to parseConfig, likewise', async () => {
    const fromEnv = await rejection(async () =>
      loadConfigFromText('', { env: { HYPERION__TRACING: 'none', HYPERION__TRACING__EXPORTER: 'otlp' } }),
    );
    assert.match(
      fromEnv.issues[0]?.message ?? '',
      /HYPERION__TRACING__EXPORTER cannot set a field inside it/,
    );
    const fromObject = await rejection(async () =>
      parseConfig(
        { tracing: { attributes: 'env=prod' } },
        { env: { HYPERION__TRACING__ATTRIBUTES__TEAM: 'a' } },
      ),
    );
    assert.equal(fromObject.issues[0]?.path, 'tracing.attributes');
  });

  it('a value the field takes is still extended: `tls: true` given its server_name', async () => {
    const config = await loadFile('cache: {type: redis, tls: true}\n', {
      HYPERION__CACHE__TLS__SERVER_NAME: 'redis.internal',
    });
    assert.deepEqual((config.cache as { tls?: unknown }).tls, { server_name: 'redis.internal' });
  });

  it('an empty section is filled by its variables, as before', async () => {
    const config = await loadFile('tracing:\n  sample_rate: 0.3\nmetrics:\n', {
      HYPERION__METRICS__PORT: '9464',
    });
    assert.equal(config.metrics?.port, 9464);
  });
});
