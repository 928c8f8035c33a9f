/**
 * A hostile or sloppy config, found by the hostile-config audit: inputs within the documented
 * limits (1 MiB, 32 levels, 100,000 values) that took time or memory far beyond their size before
 * being refused or loaded, and a key name (`toJSON`) the loaded config overwrote. The assertions
 * are on what is reported (and on CPU-time ratios where the defect was the growth itself), never
 * on absolute times.
 */
/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: placeholders are config text under test */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createAppFromConfig,
  loadConfigFromText,
  MAX_CONFIG_VALUES,
  parseConfig,
} from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

function error(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

const json = (text: string) => () => loadConfigFromText(text, { env: {}, format: 'json' });

describe('hostile config: JSON nested deeper than the limit', () => {
  // The JSON duplicate-key scan ran before the depth check and copied each key's path: time
  // quadratic in the depth (40,000 levels: 20 s; a 1 MiB file of `{"a":` hours).
  it('is refused by the scan, at its line, with the same limit as YAML', () => {
    const nest = (n: number, before = '') =>
      `{"tracing":{"attributes":{${before}"a":${'['.repeat(n)}${']'.repeat(n)}}}}`;
    // tracing, attributes and the root are 3 levels: 29 lists make 32, the limit.
    assert.match(error(json(nest(29))).message, /tracing\.attributes\.a: has the wrong type/);
    const deep = error(json(nest(30, '\n\n')));
    assert.match(deep.message, /nested more than 32 levels deep at line 3 \(the limit for a config\)/);
  });
  it('a long run of nested objects is refused at once', () => {
    const n = 20_000;
    const err = error(json(`{"a":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`));
    assert.match(err.message, /nested more than 32 levels deep at line 1/);
  });
});

/** CPU time of this process for `run` (best of 3): other processes on a busy machine barely move it. */
function cpu(run: () => void): number {
  let min = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = process.cpuUsage();
    run();
    const used = process.cpuUsage(t0);
    min = Math.min(min, used.user + used.system);
  }
  return min;
}

describe('hostile config: many values given as written grow the load time linearly', () => {
  // Each label value written `1.10` (kept as text, not 1.1) and each text field an environment
  // variable set copied the whole mapping again: 10,000 labels (a 160 KB file) took 159 s, and
  // each value looked for its variable among all of them.
  const tooManyLabels = (load: () => unknown) =>
    assert.throws(load, (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.issues.map((i) => [i.path, i.expected]),
        [['metrics.default_labels', 'a mapping of at most 30 label names to values']],
      );
      return true;
    });
  const ratio = (load: (n: number) => () => void) => {
    cpu(load(500)); // warm-up
    return cpu(load(4000)) / cpu(load(500));
  };
  it('label values in a file (ratio, not absolute time)', () => {
    const load = (n: number) => {
      let text = 'metrics:\n  default_labels:\n';
      for (let i = 0; i < n; i++) text += `    label_${i}: 1.10\n`;
      // More than the 30 default labels createMetrics takes: refused as one issue, after every
      // value was read (the work measured here).
      return () => tooManyLabels(() => loadConfigFromText(text, { env: {} }));
    };
    const r = ratio(load);
    // 8× the values: linear ≈ 8, quadratic ≈ 64.
    assert.ok(r < 24, `8× the values took ${r.toFixed(1)}× the time`);
  });
  it('label values and attributes set by environment variables (ratio, not absolute time)', () => {
    const load = (n: number) => {
      const env: Record<string, string> = {};
      for (let i = 0; i < n; i++) {
        env[`HYPERION__METRICS__DEFAULT_LABELS__L${i}`] = '1.10';
        env[`HYPERION__TRACING__ATTRIBUTES__A${i}`] = '007';
      }
      return () => tooManyLabels(() => loadConfigFromText('tracing: {}\nmetrics: {}\n', { env }));
    };
    const r = ratio(load);
    assert.ok(r < 24, `8× the variables took ${r.toFixed(1)}× the time`);
  });
});

describe('hostile config: an object in code holding more values than the limit', () => {
  // Every item was stacked (each with a copy of its path) before any was counted: a list of
  // 5,000,000 items took 5 s and 1.8 GB before being refused, one of length 1e9 (sparse) ran out
  // of memory. Counted first, nothing of such a list or mapping is read.
  const watched = (size: number) => {
    let reads = 0;
    const list: unknown[] = new Array(size);
    for (const i of [0, size - 1])
      Object.defineProperty(list, i, { enumerable: true, get: () => ++reads && '127.0.0.1:6379' });
    const labels: Record<string, unknown> = {};
    for (let i = 0; i < size; i++)
      Object.defineProperty(labels, `l${i}`, { enumerable: true, get: () => ++reads && 'x' });
    return { list, labels, reads: () => reads };
  };
  it('parseConfig refuses it without reading its items', () => {
    const w = watched(MAX_CONFIG_VALUES + 1);
    for (const raw of [
      { cache: { type: 'redis', mode: 'cluster', addresses: w.list } },
      { metrics: { default_labels: w.labels } },
    ])
      assert.match(error(() => parseConfig(raw)).message, /holds more than 100000 values/);
    assert.equal(w.reads(), 0);
    // A sparse list of the largest length: refused at once, not walked item by item.
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    assert.match(
      error(() => parseConfig({ cache: { type: 'redis', addresses: sparse } })).message,
      /more than/,
    );
  });
  it('createAppFromConfig too', async () => {
    const w = watched(MAX_CONFIG_VALUES + 1);
    await assert.rejects(
      createAppFromConfig({ metrics: { default_labels: w.labels } } as never),
      (e: unknown) => e instanceof ConfigError && /holds more than 100000 values/.test(e.message),
    );
    assert.equal(w.reads(), 0);
  });
  it('a list at the limit is still read', () => {
    // root, cache, type, mode and addresses are 5 values.
    const list = new Array(MAX_CONFIG_VALUES - 5).fill('127.0.0.1:6379');
    const c = parseConfig({ cache: { type: 'redis', mode: 'cluster', addresses: list } });
    assert.equal((c.cache as { addresses: string[] }).addresses.length, MAX_CONFIG_VALUES - 5);
    list.push('127.0.0.1:6379');
    assert.match(
      error(() => parseConfig({ cache: { type: 'redis', mode: 'cluster', addresses: list } })).message,
      /holds more than 100000 values/,
    );
  });
});

describe('hostile config: a long value that looks like the start of many ${…} placeholders', () => {
  // The placeholder check's pattern was tried from every `${` and ran to the end of the text each
  // time: a value of many `${a:` without `}` took time quadratic in its length (1 MiB: minutes).
  it('is checked in time linear in its length (ratio, not absolute time)', () => {
    const load = (n: number) => {
      const text = `service:\n  name: "${'${a:'.repeat(n)}"\n`;
      return () => {
        assert.equal(loadConfigFromText(text, { env: {} }).service?.name.length, 4 * n);
      };
    };
    cpu(load(4000)); // warm-up
    const r = cpu(load(64_000)) / cpu(load(4000));
    // 16× the length: linear ≈ 16, quadratic ≈ 256.
    assert.ok(r < 48, `16× the length took ${r.toFixed(1)}× the time`);
  });
  it('placeholders are still found, with or without a default', () => {
    for (const value of ['${A}', 'x${A_1:-dflt}y', '${a:-$HOME}', '${A?}', '${a:${b}']) {
      const err = error(() => loadConfigFromText(`service:\n  name: "${value}"\n`, { env: {} }));
      assert.match(err.message, /service\.name: holds a \$\{…\} placeholder/, value);
    }
    for (const value of ['${', '$A', '${1}', '${A', '${A:-x', '${ A}', '}${A:'])
      assert.equal(loadConfigFromText(`service:\n  name: "${value}"\n`, { env: {} }).service?.name, value);
  });
});

describe('hostile config: a long run of digits where a number or duration belongs', () => {
  // The check behind "a number in quotes is text" split such a run every way before failing
  // (`\d+\.?\d*`): `dial_timeout: "111…1ms"` took time quadratic in its length (1 MiB: minutes).
  it('is refused in time linear in its length (ratio, not absolute time)', () => {
    const load = (n: number) => {
      const text = `cache:\n  type: redis\n  dial_timeout: "${'1'.repeat(n)}ms"\nmetrics:\n  port: "${'9'.repeat(n)}x"\n`;
      return () => {
        const err = error(() => loadConfigFromText(text, { env: {} }));
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ['cache.dial_timeout', 'metrics.port'],
        );
      };
    };
    cpu(load(4000)); // warm-up
    const r = cpu(load(64_000)) / cpu(load(4000));
    // 16× the length: linear ≈ 16, quadratic ≈ 256.
    assert.ok(r < 48, `16× the length took ${r.toFixed(1)}× the time`);
  });
  it('a number in quotes is still named as such', () => {
    const err = error(() =>
      loadConfigFromText('metrics: { port: "9464" }\ncache: { type: redis, dial_timeout: "1.5" }', {
        env: {},
      }),
    );
    assert.equal(err.issues.length, 2);
    for (const i of err.issues) assert.match(i.message, /a number in quotes is text/, i.path);
  });
});

describe('hostile config: a key named toJSON', () => {
  // Each mapping of a loaded config prints redacted through its own `toJSON`: a free-form key of
  // that name (an attribute, a header, a label) was replaced by that function without a word,
  // and the loaded config then failed createAppFromConfig ("received function").
  const paths = ['tracing.attributes.toJSON', 'tracing.headers.toJSON', 'metrics.default_labels.toJSON'];
  const check = (err: ConfigError) => {
    for (const p of paths)
      assert.match(err.message, new RegExp(`${p.replaceAll('.', '\\.')}: is a reserved name`));
  };
  it('is a reserved name with its path, in YAML, JSON and objects', async () => {
    check(
      error(() =>
        loadConfigFromText(
          'tracing:\n  attributes: { toJSON: x }\n  headers: { toJSON: S3CRET-tojson }\nmetrics:\n  default_labels: { toJSON: v }\n',
          { env: {} },
        ),
      ),
    );
    const raw = {
      tracing: { attributes: { toJSON: 'x' }, headers: { toJSON: 'S3CRET-tojson' } },
      metrics: { default_labels: { toJSON: 'v' } },
    };
    check(error(json(JSON.stringify(raw))));
    check(error(() => parseConfig(raw)));
    await assert.rejects(createAppFromConfig(raw as never), (e: unknown) => {
      check(e as ConfigError);
      return !(e as Error).message.includes('S3CRET');
    });
  });
});
