/**
 * The `env` option of the loaders is the environment they read instead of `process.env`: the
 * `HYPERION__…` overrides and the `OTEL_BSP_*` variables the tracing batch rule compares a file's
 * batch sizes with. The rule read `process.env` whatever `env` said: a config checked for another
 * environment (`env: { OTEL_BSP_MAX_QUEUE_SIZE: '100' }`) passed with a batch size of 600, and one
 * checked with `env: {}` was refused because of the process's own variable.
 * `createAppFromConfig` builds the tracer in this process: it checks the config again against
 * `process.env`, the environment that tracer reads.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { createAppFromConfig, loadConfig, loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const VARS = ['OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'] as const;
const saved = Object.fromEntries(VARS.map((n) => [n, process.env[n]]));
afterEach(() => {
  for (const n of VARS) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
});
const setProcessEnv = (vars: Partial<Record<(typeof VARS)[number], string>>) => {
  for (const n of VARS) delete process.env[n];
  Object.assign(process.env, vars);
};

const TEXT = 'tracing: {exporter: memory, batch: {max_export_batch_size: 600}}\n';
const QUEUE_TEXT = 'tracing: {exporter: memory, batch: {max_queue_size: 100}}\n';

/** A ConfigError with an issue at `path` whose message names `variable`. */
const refusal = (path: string, variable: string) => (err: unknown) => {
  assert.ok(err instanceof ConfigError, String(err));
  const issue = err.issues.find((i) => i.path === path);
  assert.ok(issue, `an issue at ${path}: ${err.message}`);
  assert.match(issue.message, new RegExp(variable));
  return true;
};

describe('the loaders’ env option is the environment the batch rule reads', () => {
  it('loadConfigFromText: the queue size of `env` counts, not the process’s', () => {
    setProcessEnv({});
    assert.throws(
      () => loadConfigFromText(TEXT, { env: { OTEL_BSP_MAX_QUEUE_SIZE: '100' } }),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
    setProcessEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    const config = loadConfigFromText(TEXT, { env: {} });
    assert.equal(config.tracing?.batch?.max_export_batch_size, 600);
  });

  it('loadConfigFromText: the batch size of `env` counts, not the process’s', () => {
    setProcessEnv({});
    assert.throws(
      () => loadConfigFromText(QUEUE_TEXT, { env: { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '600' } }),
      refusal('tracing.batch.max_queue_size', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    );
    setProcessEnv({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '600' });
    assert.equal(loadConfigFromText(QUEUE_TEXT, { env: {} }).tracing?.batch?.max_queue_size, 100);
  });

  it('loadConfig (a file) and parseConfig read `env` too', async () => {
    setProcessEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    const dir = await mkdtemp(join(tmpdir(), 'hyperion-validation-env-'));
    dirs.push(dir);
    const file = join(dir, 'app.yaml');
    await writeFile(file, TEXT);
    assert.equal((await loadConfig(file, { env: {} })).tracing?.batch?.max_export_batch_size, 600);
    const raw = { tracing: { exporter: 'memory', batch: { max_export_batch_size: 600 } } };
    assert.equal(parseConfig(raw, { env: {} }).tracing?.batch?.max_export_batch_size, 600);
    setProcessEnv({});
    await assert.rejects(
      loadConfig(file, { env: { OTEL_BSP_MAX_QUEUE_SIZE: '100' } }),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
    assert.throws(
      () => parseConfig(raw, { env: { OTEL_BSP_MAX_QUEUE_SIZE: '100' } }),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
  });

  it('without `env`, process.env is read (as the tracer reads it)', () => {
    setProcessEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    assert.throws(
      () => loadConfigFromText(TEXT),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
  });

  it('createAppFromConfig checks against process.env, whose variables its tracer reads', async () => {
    setProcessEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    // Valid for the environment it was loaded for, not for this process: refused before building.
    const config = loadConfigFromText(TEXT, { env: {} });
    await assert.rejects(
      createAppFromConfig(config),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
    setProcessEnv({});
    await (await createAppFromConfig(config)).close();
  });
});

describe('an override naming an item of a list (found from outside)', () => {
  // HYPERION__CACHE__ADDRESSES__0 made the file's list the mapping { 0: … }, refused as
  // "cache.addresses: has the wrong type … received a mapping": nothing said a list is set whole.
  it('is an issue naming the variable and the variable that sets the whole list', () => {
    const file = 'cache: {type: redis, addresses: ["a:1"]}\ntracing: {propagators: [tracecontext]}';
    assert.throws(
      () =>
        loadConfigFromText(file, {
          env: { HYPERION__CACHE__ADDRESSES__0: 'b:2', HYPERION__TRACING__PROPAGATORS__1__X: 'b3' },
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(
          e.issues.map((i) => [i.path, i.message]),
          [
            [
              'HYPERION__CACHE__ADDRESSES__0',
              "environment variable HYPERION__CACHE__ADDRESSES__0: names an item of the list cache.addresses: a list is set whole, e.g. HYPERION__CACHE__ADDRESSES='[…]'",
            ],
            [
              'HYPERION__TRACING__PROPAGATORS__1__X',
              "environment variable HYPERION__TRACING__PROPAGATORS__1__X: names an item of the list tracing.propagators: a list is set whole, e.g. HYPERION__TRACING__PROPAGATORS='[…]'",
            ],
          ],
        );
        assert.ok(!e.message.includes('b:2'), 'the value is not shown');
        return true;
      },
    );
    // The whole list, as the message says, is read.
    assert.deepEqual(loadConfigFromText(file, { env: { HYPERION__CACHE__ADDRESSES: '[b:2]' } }).cache, {
      type: 'redis',
      addresses: ['b:2'],
    });
  });
});
