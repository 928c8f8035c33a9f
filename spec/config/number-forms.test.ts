/**
 * How numbers may be written in a config (found from outside by loading small files and
 * `HYPERION__…` overrides): YAML 1.2 reads `0x1F90` and `0o17` as integers, so `port: 0x1F90` was
 * 8080, `sample_rate: 0x1` every trace and `HYPERION__CACHE__DIAL_TIMEOUT=0o17` 15 ms, silently —
 * while the demo's own variables (`PORT`, `HYPERION_SAMPLE_RATE`) refuse those forms. A field that
 * takes numbers now refuses them with its path; `-0` is 0 (not a `-0` kept in the config); `1_000`
 * (text in YAML 1.2) says why it is text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

function problems(text: string, env: Record<string, string> = {}) {
  try {
    loadConfigFromText(text, { env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('accepted');
}

const REDIS = 'cache: {type: redis, addresses: ["a:1"]}\n';

describe('config: numbers are written in decimal', () => {
  it('a hexadecimal or octal number in a file is an issue with its path, for every kind of numeric field', () => {
    const found = problems(
      [
        'metrics: {port: 0x1F90, max_series_per_metric: 0o17}',
        'tracing: {exporter: none, sample_rate: 0x1}',
        'cache: {type: redis, addresses: ["a:1"], dial_timeout: 0o17, db: 0x3, default_ttl: 0x10}',
      ].join('\n'),
    );
    const expected: [string, string][] = [
      ['metrics.port', 'hexadecimal'],
      ['metrics.max_series_per_metric', 'octal'],
      ['tracing.sample_rate', 'hexadecimal'],
      ['cache.dial_timeout', 'octal'],
      ['cache.db', 'hexadecimal'],
      ['cache.default_ttl', 'hexadecimal'],
    ];
    assert.equal(found.length, expected.length, found.join('\n'));
    for (const [path, form] of expected) {
      assert.ok(
        found.some((f) => f.startsWith(`${path}: is written in ${form}`) && f.includes('decimal')),
        `${path}\n${found.join('\n')}`,
      );
    }
  });

  it('so is one set by an environment variable, also inside a flow mapping, naming the variable', () => {
    const found = problems('tracing: {exporter: none}\n', {
      HYPERION__METRICS__PORT: '0x1F90',
      HYPERION__TRACING__SAMPLE_RATE: '0o1',
    });
    assert.deepEqual(found.sort(), [
      'metrics.port: is written in hexadecimal (0x…), which YAML reads as an integer; a number in a config is written in decimal (set by environment variable HYPERION__METRICS__PORT)',
      'tracing.sample_rate: is written in octal (0o…), which YAML reads as an integer; a number in a config is written in decimal (set by environment variable HYPERION__TRACING__SAMPLE_RATE)',
    ]);
    const nested = problems('cache: {type: tiered, l1: {type: memory, max_cost: 1000}}\n', {
      HYPERION__CACHE__L2: '{type: redis, addresses: ["a:1"], db: 0x3}',
    });
    assert.equal(nested.length, 1, nested.join('\n'));
    assert.match(nested[0]!, /^cache\.l2\.db: is written in hexadecimal .*HYPERION__CACHE__L2\)$/);
  });

  it('decimal forms stay accepted, and a value an override replaced is not judged by its old form', () => {
    const c = loadConfigFromText(
      'metrics: {port: 0x1F90, max_series_per_metric: 08080}\ntracing: {exporter: none, sample_rate: .5}\n',
      { env: { HYPERION__METRICS__PORT: '+9000' } },
    );
    assert.equal(c.metrics?.port, 9000);
    assert.equal(c.metrics?.max_series_per_metric, 8080); // YAML 1.2: leading zeros are decimal
    assert.equal(c.tracing?.sample_rate, 0.5);
    const d = loadConfigFromText(REDIS, {
      env: { HYPERION__CACHE__DIAL_TIMEOUT: '1e3', HYPERION__CACHE__DB: '3.0' },
    });
    assert.equal((d.cache as { dial_timeout?: unknown }).dial_timeout, 1000);
    assert.equal((d.cache as { db?: unknown }).db, 3);
  });

  it('fields that take text or any value keep what they did: label text, attribute number, password text', () => {
    const c = loadConfigFromText(
      `${REDIS}metrics: {default_labels: {v: 0x1F}}\ntracing: {exporter: none, attributes: {n: 0x1F}}\n`,
      { env: { HYPERION__CACHE__PASSWORD: '0x1F' } },
    );
    assert.deepEqual(c.metrics?.default_labels, { v: '0x1F' });
    assert.deepEqual(c.tracing?.attributes, { n: 31 });
    assert.equal((c.cache as { password?: unknown }).password, '0x1F');
  });

  it('-0 is 0: accepted where 0 is, refused where 0 is, and never kept as -0', () => {
    const c = loadConfigFromText('metrics: {port: -0}\ntracing: {exporter: none, sample_rate: -0.0}\n', {
      env: {},
    });
    assert.ok(Object.is(c.metrics?.port, 0), String(c.metrics?.port));
    assert.ok(Object.is(c.tracing?.sample_rate, 0));
    const e = loadConfigFromText(REDIS, { env: { HYPERION__CACHE__DB: '-0' } });
    assert.ok(Object.is((e.cache as { db?: unknown }).db, 0));
    const o = parseConfig({ metrics: { port: -0 }, tracing: { exporter: 'none', sample_rate: -0 } });
    assert.ok(Object.is(o.metrics?.port, 0));
    assert.ok(Object.is(o.tracing?.sample_rate, 0));
    // A timeout must be above 0: -0 is refused as 0 is.
    assert.match(
      problems(`${REDIS.trimEnd().slice(0, -1)}, dial_timeout: -0}`).join('\n'),
      /dial_timeout: is too small/,
    );
  });

  it('1_000 (text in YAML 1.2) says why it is not a number', () => {
    const found = problems(`${REDIS}metrics: {port: 8_080}\n`, { HYPERION__CACHE__DIAL_TIMEOUT: '1_000' });
    assert.equal(found.length, 2, found.join('\n'));
    for (const f of found) assert.match(f, /digits with `_` between them are text in YAML 1\.2/);
    // Text that merely holds `_` is not taken for such a number.
    assert.doesNotMatch(problems('metrics: {port: a_b}\n').join('\n'), /digits with/);
  });
});

describe('config: a JSON file reads numbers as the same YAML file does', () => {
  it('a label value written 1.10 is "1.10" in JSON as in YAML (it was "1.1", silently)', async () => {
    const json =
      '{"metrics": {"default_labels": {"a": 1.10, "b": 2.0, "c": 7.50, "d": 1E3, "e": 10, "f": "x", "g": -1.50}},\n' +
      ' "tracing": {"attributes": {"n": 1.10, "l": [1.10, 2.0]}}, "cache": {"type": "memory", "max_cost": 1000.0}}';
    const fromJson = loadConfigFromText(json, { env: {}, format: 'json' });
    const fromYaml = loadConfigFromText(json, { env: {}, format: 'yaml' });
    assert.deepEqual(fromJson.metrics?.default_labels, {
      a: '1.10',
      b: '2.0',
      c: '7.50',
      d: '1E3',
      e: '10',
      f: 'x',
      g: '-1.50',
    });
    assert.deepEqual(JSON.parse(JSON.stringify(fromJson)), JSON.parse(JSON.stringify(fromYaml)));
    // Fields that take numbers only, and attributes, keep the number.
    assert.deepEqual(fromJson.tracing?.attributes, { n: 1.1, l: [1.1, 2] });
    assert.equal((fromJson.cache as { max_cost?: unknown }).max_cost, 1000);
    // Keys and strings holding digits are not numbers; nesting and arrays keep their paths.
    const nested = loadConfigFromText(
      '{"metrics": {"namespace": "a1_10", "default_labels": {"x1": "2.50", "y": 3.10}}}',
      { env: {}, format: 'json' },
    );
    assert.deepEqual(nested.metrics?.default_labels, { x1: '2.50', y: '3.10' });
    assert.equal(nested.metrics?.namespace, 'a1_10');
  });
});

describe('config: a list of numbers where a mapping of labels belongs', () => {
  it('is reported as a list, not as a label named `0` (the list was turned into a mapping)', () => {
    for (const [text, format] of [
      ['metrics: {default_labels: [1.10, 2]}', 'yaml'],
      ['{"metrics": {"default_labels": [1.10, 2]}}', 'json'],
    ] as const) {
      try {
        loadConfigFromText(text, { env: {}, format });
        assert.fail('accepted');
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        assert.deepEqual(
          err.issues.map((i) => [i.path, i.message, i.received]),
          [['metrics.default_labels', 'has the wrong type', 'a list']],
          format,
        );
      }
    }
  });
});

// Quoted, a number or boolean is text (a template that quotes every value, a JSON file written
// by hand): `scheduled_delay: "5000"` read "is not in an accepted form (expected … or as a number
// of milliseconds, received text)", with a number of milliseconds in front of the reader.
describe('config: a number or boolean in quotes', () => {
  it('is refused saying it is text because of its quotes, in YAML and JSON', () => {
    const hint = ': a number in quotes is text (write it without quotes)';
    assert.deepEqual(
      problems(
        'metrics: {port: "9464"}\ntracing: {enabled: "true", sample_rate: \'0.5\', batch: {scheduled_delay: "5000"}}\n',
      ),
      [
        'tracing.enabled: has the wrong type: true or false in quotes is text (write it without quotes)',
        `tracing.sample_rate: has the wrong type${hint}`,
        `tracing.batch.scheduled_delay: is not in an accepted form${hint}`,
        `metrics.port: has the wrong type${hint}`,
      ],
    );
    assert.throws(
      () =>
        loadConfigFromText('{"cache": {"type": "memory", "max_cost": "1000"}}', { env: {}, format: 'json' }),
      (e: unknown) => e instanceof ConfigError && e.issues[0]!.message === `has the wrong type${hint}`,
    );
  });

  it('text fields and fields taking text or numbers are unchanged', () => {
    // A label value takes text: "5" is the label "5"; a duration's text "5s" is a duration.
    const c = loadConfigFromText(
      'metrics: {default_labels: {v: "5"}}\ntracing: {batch: {scheduled_delay: "5s"}}\n',
      {
        env: {},
      },
    );
    assert.equal(c.metrics?.default_labels?.v, '5');
    assert.equal(c.tracing?.batch?.scheduled_delay, 5000);
    // A password of digits is text, as it should be.
    assert.equal(
      (
        loadConfigFromText('cache: {type: redis, password: "123"}\n', { env: {} }).cache as {
          password?: string;
        }
      ).password,
      '123',
    );
    // A duration written in quotes that is no number of ms in range gets no such hint.
    assert.deepEqual(problems('tracing: {batch: {scheduled_delay: "5 s"}}\n'), [
      'tracing.batch.scheduled_delay: is not in an accepted form',
    ]);
  });
});
