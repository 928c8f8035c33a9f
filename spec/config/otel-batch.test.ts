/**
 * The config's batch rule and the tracer read the same queue size: the file's `max_queue_size`,
 * else `OTEL_BSP_MAX_QUEUE_SIZE`, else 2048. The rule compared with 2048 whatever the variable
 * said: at 5000 a `max_export_batch_size` of 3000 was refused; at 100 one of 600 loaded and
 * `createAppFromConfig` then failed on `batch.maxExportBatchSize`, named in neither the file nor
 * the environment.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  createAppFromConfig,
  loadConfigFromText,
  parseConfig,
  tracingOptionsFromConfig,
} from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { resolveOptions } from '../../lib/tracing/otel/options.js';

const VARS = ['OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'] as const;
const saved = Object.fromEntries(VARS.map((n) => [n, process.env[n]]));
afterEach(() => {
  for (const n of VARS) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
});
const setEnv = (vars: Partial<Record<(typeof VARS)[number], string>>) => {
  for (const n of VARS) delete process.env[n];
  Object.assign(process.env, vars);
};

const yaml = (batch: string, extra = '') => `tracing: {exporter: memory${extra}, batch: {${batch}}}\n`;

/** A ConfigError with an issue at `path` whose message names `variable`. */
const refusal = (path: string, variable: string) => (err: unknown) => {
  assert.ok(err instanceof ConfigError, String(err));
  const issue = err.issues.find((i) => i.path === path);
  assert.ok(issue, `an issue at ${path}: ${err.message}`);
  assert.match(issue.message, new RegExp(variable));
  assert.doesNotMatch(err.message, /maxExportBatchSize|maxQueueSize/);
  return true;
};

describe('config batch sizes and OTEL_BSP_* (one effective queue size)', () => {
  it('OTEL_BSP_MAX_QUEUE_SIZE=5000: a file batch size of 3000 loads and builds with that queue', async () => {
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '5000' });
    const config = loadConfigFromText(yaml('max_export_batch_size: 3000'));
    assert.equal(config.tracing?.batch?.max_export_batch_size, 3000);
    const o = resolveOptions(tracingOptionsFromConfig(config.tracing!), process.env);
    assert.equal(o.batch.maxQueueSize, 5000);
    assert.equal(o.batch.maxExportBatchSize, 3000);
    const app = await createAppFromConfig(config);
    await app.close();
  });

  it('OTEL_BSP_MAX_QUEUE_SIZE=100: a file batch size of 600 is refused at load, naming the field and the variable', () => {
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    assert.throws(
      () => loadConfigFromText(yaml('max_export_batch_size: 600')),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
    // The file's own queue size wins over the variable.
    const config = loadConfigFromText(yaml('max_queue_size: 1000, max_export_batch_size: 600'));
    assert.equal(config.tracing?.batch?.max_queue_size, 1000);
  });

  it('createAppFromConfig refuses before building anything, naming the field and the variable', async () => {
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '5000' });
    const config = parseConfig({ tracing: { exporter: 'memory', batch: { max_export_batch_size: 600 } } });
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    await assert.rejects(
      createAppFromConfig(config),
      refusal('tracing.batch.max_export_batch_size', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    );
  });

  it('a file queue size below OTEL_BSP_MAX_EXPORT_BATCH_SIZE is refused at load, naming both', () => {
    setEnv({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '600' });
    assert.throws(
      () => loadConfigFromText(yaml('max_queue_size: 100')),
      refusal('tracing.batch.max_queue_size', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    );
  });

  it('createOtelTracer names OTEL_BSP_MAX_QUEUE_SIZE when it is below the batch size given in options', () => {
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    assert.throws(
      () => createOtelTracer({ exporter: 'memory', batch: { maxExportBatchSize: 600 } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ['OTEL_BSP_MAX_QUEUE_SIZE'],
        );
        assert.match(err.issues[0]!.message, /batch\.maxExportBatchSize \(600\)/);
        return true;
      },
    );
  });

  it('with tracing disabled the variables are not looked at; a bad variable is left to the tracer to name', async () => {
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    const off = loadConfigFromText(yaml('max_export_batch_size: 600', ', enabled: false'));
    await (await createAppFromConfig(off)).close();
    setEnv({ OTEL_BSP_MAX_QUEUE_SIZE: 'abc' });
    const config = loadConfigFromText(yaml('max_export_batch_size: 3000'));
    await assert.rejects(createAppFromConfig(config), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ['OTEL_BSP_MAX_QUEUE_SIZE'],
      );
      return true;
    });
  });
});
