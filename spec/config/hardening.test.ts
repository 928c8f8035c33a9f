/**
 * Issue 16, one block per numbered item: secrets never reach stderr, the top level must be a
 * mapping, lists are not mappings, every number has a range, malformed override names are
 * rejected, size/depth limits and linear parse time, plain-words messages, and factories that
 * reject unknown options.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMemoryCache, createSyncMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { resolveOptions as resolveRedisOptions } from '../../lib/cache/redis/options.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { loadConfig, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { editDistance, suggestKey } from '../../lib/core/options.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

let dir: string | undefined;
async function file(name: string, text: string): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'hyperion-config16-'));
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

async function loadError(
  text: string,
  env: Record<string, string> = {},
  name = 'c.yaml',
): Promise<ConfigError> {
  const p = await file(name, text);
  const err = await loadConfig(p, { env }).then(
    (c) => new Error(`loaded: ${JSON.stringify(c)}`),
    (e: unknown) => e,
  );
  assert.ok(
    err instanceof ConfigError,
    `expected a ConfigError for ${JSON.stringify(text)}, got ${String(err)}`,
  );
  return err;
}

const paths = (err: ConfigError) => err.issues.map((i) => i.path).sort();

describe('issue 16 — 1: nothing from the YAML parser is printed; secrets never reach stderr', () => {
  it('unknown tags are a ConfigError with the path; stderr and messages never show the secret', async () => {
    const files = [
      await file('tag.yaml', 'cache: {type: redis, password: !vault S3CR3T-ONE}\n'),
      await file(
        'hdr.yaml',
        'tracing:\n  exporter: memory\n  headers:\n    authorization: !env Bearer-S3CR3T-TWO\n',
      ),
      await file('syntax.yaml', 'cache:\n  type: redis\n  password: "S3CR3T-THREE\n  x: [\n'),
      await file('intag.yaml', 'cache: {type: redis, password: !!int S3CR3T-FOUR}\n'),
      await file('dup.yaml', 'cache:\n  type: redis\n  password: S3CR3T-FIVE\n  password: S3CR3T-FIVE\n'),
      await file('json.json', '{"cache": {"type": "redis", "password": S3CR3T-SIX}}'),
      await file('env.yaml', 'cache: {type: redis}\n'), // the password comes from the environment
    ];
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./fixtures/load-report.ts', import.meta.url)), ...files],
      {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '', HYPERION__CACHE__PASSWORD: '!vault S3CR3T-SEVEN' },
        timeout: 60_000,
      },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.doesNotMatch(child.stderr, /S3CR3T/, `stderr: ${child.stderr}`);
    assert.equal(child.stderr.trim(), '', 'nothing at all is printed');
    const results = child.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; ok: boolean; message: string });
    assert.equal(results.length, files.length);
    for (const r of results) {
      assert.equal(r.ok, false, `${r.file} must be rejected`);
      assert.match(r.message, /ConfigError/);
      assert.doesNotMatch(r.message, /S3CR3T/, r.message);
    }
    assert.match(results[0]!.message, /cache\.password: uses a YAML tag/);
    assert.match(results[1]!.message, /tracing\.headers\.authorization: uses a YAML tag/);
    assert.match(results[2]!.message, /not valid YAML at line \d+, column \d+: a closing quote/);
    assert.match(results[4]!.message, /cache\.password: appears twice/);
    assert.match(results[6]!.message, /environment variable HYPERION__CACHE__PASSWORD/);
  });

  it('a value run into its key (`password:hunter2`) shows only the name part of the key', async () => {
    const err = await loadError('tracing: {exporter: memory, password:hunter2-S3CR3T}\n');
    assert.deepEqual(paths(err), ['tracing.password…']);
    assert.doesNotMatch(`${err.message} ${JSON.stringify(err.issues)}`, /hunter2|S3CR3T/);
  });

  it('a tag elsewhere is named, with its path', async () => {
    const err = await loadError('tracing:\n  service_name: !include name.txt\n');
    assert.deepEqual(paths(err), ['tracing.service_name']);
    assert.match(err.message, /YAML tag `!include`/);
  });
});

describe('issue 16 — 2: the top level must be a mapping; only an empty file means defaults', () => {
  const variants = [
    'hello',
    '42',
    '[1, 2]',
    'true',
    '- tracing: {exporter: memory}',
    '~',
    'null',
    '"text"',
    '3.5',
    '[]',
  ];
  for (const text of variants) {
    it(`rejects ${JSON.stringify(text)}`, async () => {
      const err = await loadError(`${text}\n`);
      assert.deepEqual(paths(err), ['']);
      assert.match(err.message, /top level must be a mapping/);
    });
  }
  it('an empty file, or one with only comments, means all defaults (YAML and JSON)', async () => {
    assert.deepEqual(await loadConfig(await file('e.yaml', ''), { env: {} }), {});
    assert.deepEqual(await loadConfig(await file('e2.yaml', '# nothing yet\n\n'), { env: {} }), {});
    assert.deepEqual(await loadConfig(await file('e.json', ' \n'), { env: {} }), {});
    await loadError('[]', {}, 'list.json');
  });
});

describe('issue 16 — 3: a list is not a mapping', () => {
  it('rejects lists for attributes, headers, default labels, sections and nested settings', async () => {
    const err = await loadError(
      'tracing: {attributes: [1], headers: [a], batch: [1]}\nmetrics: {default_labels: [x]}\nlogging: [debug]\ncache: {type: redis, tls: [1], cluster: [1]}\n',
    );
    assert.deepEqual(paths(err), [
      'cache.cluster',
      'cache.tls',
      'logging',
      'metrics.default_labels',
      'tracing.attributes',
      'tracing.batch',
      'tracing.headers',
    ]);
    for (const i of err.issues) assert.equal(i.received, 'a list', i.path);
  });
});

describe('issue 16 — 4: every number has a range', () => {
  it('rejects the huge numbers of the report, each with its path and range', async () => {
    const err = await loadError(
      'tracing: {batch: {scheduled_delay: 1e300, export_timeout: 1e15, max_queue_size: 1e300}}\n' +
        'cache: {type: redis, db: 1e300, dial_timeout: 1e300}\n',
    );
    assert.deepEqual(paths(err), [
      'cache.db',
      'cache.dial_timeout',
      'tracing.batch.export_timeout',
      'tracing.batch.max_queue_size',
      'tracing.batch.scheduled_delay',
    ]);
    assert.match(
      err.message,
      /scheduled_delay: is too large \(expected a duration from 0 ms up to 2,147,483,647 ms/,
    );
    const mem = await loadError('cache: {type: memory, max_cost: 1e300}\n');
    assert.deepEqual(paths(mem), ['cache.max_cost']);
  });

  it('bounds: timers ≤ 2^31 − 1 ms, TTLs ≤ 365 days, db < databases (16 by default)', () => {
    const ok = (raw: unknown) => assert.doesNotThrow(() => parseConfig(raw), JSON.stringify(raw));
    const bad = (raw: unknown, path: string) =>
      assert.throws(
        () => parseConfig(raw),
        (e: ConfigError) => e.issues.some((i) => i.path === path),
        JSON.stringify(raw),
      );
    ok({ tracing: { batch: { scheduled_delay: 2 ** 31 - 1 } } });
    bad({ tracing: { batch: { scheduled_delay: 2 ** 31 } } }, 'tracing.batch.scheduled_delay');
    bad({ tracing: { batch: { scheduled_delay: '597h' } } }, 'tracing.batch.scheduled_delay');
    ok({ cache: { type: 'memory', max_cost: 1, default_ttl: '8760h' } });
    bad({ cache: { type: 'memory', max_cost: 1, default_ttl: '8761h' } }, 'cache.default_ttl');
    ok({ cache: { type: 'redis', db: 15 } });
    bad({ cache: { type: 'redis', db: 16 } }, 'cache.db');
    ok({ cache: { type: 'redis', db: 20, databases: 32 } });
    bad({ cache: { type: 'redis', dial_timeout: 0 } }, 'cache.dial_timeout');
    bad({ cache: { type: 'memory', max_cost: 1, num_counters: 2 ** 26 + 1 } }, 'cache.num_counters');
    bad({ metrics: { max_series_per_metric: 1e7 } }, 'metrics.max_series_per_metric');
    bad({ tracing: { batch: { max_export_batch_size: 4096 } } }, 'tracing.batch.max_export_batch_size');
  });

  it('the factories enforce the same ranges', () => {
    const rejects = (fn: () => unknown, field: RegExp) =>
      assert.throws(fn, (e: Error) => field.test(e.message), String(fn));
    rejects(() => resolveRedisOptions({ db: 16 }), /db/);
    rejects(() => resolveRedisOptions({ dialTimeout: 2 ** 31 }), /dialTimeout/);
    assert.equal(resolveRedisOptions({ db: 20, databases: 32 }).db, 20);
    rejects(() => createMemoryCache({ maxCost: 1, numCounters: 2 ** 26 + 1 }), /numCounters/);
    rejects(() => createMemoryCache({ maxCost: 1e300 }), /maxCost/);
    rejects(() => createOtelTracer({ batch: { scheduledDelayMillis: 2 ** 31 } }), /scheduledDelayMillis/);
    rejects(() => createMetrics({ maxSeriesPerMetric: 1e7 }), /maxSeriesPerMetric/);
    const l1 = createMemoryCache({ maxCost: 100 });
    const l2 = createMemoryCache({ maxCost: 100 });
    rejects(() => createTieredCache({ l1, l2, breaker: { cooldown: 1e300 } }), /breaker\.cooldown/);
    rejects(() => createTieredCache({ l1, l2, ttl: 1e300 }), /ttl/);
  });
});

describe('issue 16 — 5: malformed environment override names are rejected and named', () => {
  for (const name of ['HYPERION____X', 'HYPERION__', 'HYPERION__TRACING____ENDPOINT']) {
    it(`rejects ${name}`, async () => {
      const err = await loadError('tracing: {exporter: memory}\n', { [name]: 'x' });
      assert.match(err.message, new RegExp(`environment variable ${name}:`));
    });
  }
  it('an invalid value from the environment is reported as coming from its variable', async () => {
    const err = await loadError('tracing: {exporter: memory}\n', {
      HYPERION__TRACING__SAMPLE_RATE: '2',
      HYPERION__TRACNG__EXPORTER: 'otlp',
    });
    const rate = err.issues.find((i) => i.path === 'tracing.sample_rate')!;
    assert.match(rate.message, /set by environment variable HYPERION__TRACING__SAMPLE_RATE/);
    const typo = err.issues.find((i) => i.path === 'tracng')!;
    assert.match(
      typo.message,
      /did you mean `tracing` \(HYPERION__TRACING__EXPORTER\)\? \(set by environment variable HYPERION__TRACNG__EXPORTER\)/,
    );
    assert.match(err.message, /from environment variables/);
  });
  it('a tagged environment value is an error naming the variable, never showing the value', async () => {
    const err = await loadError('cache: {type: redis}\n', { HYPERION__CACHE__PASSWORD: '!vault S3CR3T' });
    assert.match(err.message, /environment variable HYPERION__CACHE__PASSWORD/);
    assert.doesNotMatch(err.message, /S3CR3T|vault/);
  });
});

describe('issue 16 — 6: size and depth limits; parse time linear in size', () => {
  it('refuses a file over 1 MiB with a clear error', async () => {
    const err = await loadError(`service: {name: "${'x'.repeat(1024 * 1024)}"}\n`);
    assert.match(err.message, /larger than 1048576 bytes/);
  });
  it('never reads more than the limit, even from an endless file', async () => {
    await assert.rejects(loadConfig('/dev/zero', { env: {} }), (e: ConfigError) =>
      /larger than 1048576 bytes/.test(e.message),
    );
  });
  it('refuses deep nesting, flow or block, before parsing it', async () => {
    const flow = await loadError(`tracing: {attributes: {a: ${'['.repeat(5000)}${']'.repeat(5000)}}}\n`);
    assert.match(flow.message, /nested more than 32 levels deep/);
    const block = await loadError(
      `${Array.from({ length: 40 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`,
    );
    assert.match(block.message, /nested more than 32 levels deep/);
  });
  it('refuses aliases that multiply the document', async () => {
    const lines = ['a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const err = await loadError(`tracing:\n  attributes:\n${lines.map((l) => `    ${l}`).join('\n')}\n`);
    assert.match(err.message, /alias/);
  });
  it('allows at most 100 alias uses in a document, as the README says', async () => {
    // One anchor used 100 times was refused (the YAML library counts the anchor itself, per
    // anchor), while 20 anchors used 99 times each (1,980 uses) were accepted.
    const doc = (anchors: number, uses: number) =>
      `tracing:\n  attributes:\n${Array.from(
        { length: anchors },
        (_, a) =>
          `    base${a}: &a${a} x\n${Array.from({ length: uses }, (_, i) => `    k${a}_${i}: *a${a}`).join('\n')}`,
      ).join('\n')}\n`;
    const config = await loadConfig(await file('aliases-100.yaml', doc(1, 100)), { env: {} });
    assert.equal(config.tracing?.attributes?.k0_99, 'x');
    const spread = await loadError(doc(2, 51));
    assert.match(spread.message, /uses YAML aliases \(\*name\) more than 100 times/);
    const one = await loadError(doc(1, 101));
    assert.match(one.message, /more than 100 times/);
  });
  it('parse time grows linearly with the number of keys (ratio, not absolute time)', async () => {
    const text = (n: number) => {
      let t = 'tracing:\n  attributes:\n';
      for (let i = 0; i < n; i++) t += `    attribute_number_${i}: value-${i}\n`;
      return t;
    };
    const small = await file('small.yaml', text(2000));
    const large = await file('large.yaml', text(16_000));
    const best = async (p: string) => {
      let min = Infinity;
      for (let k = 0; k < 3; k++) {
        // CPU time of this process: other processes on a busy machine barely move it.
        const t0 = process.cpuUsage();
        await loadConfig(p, { env: {} });
        const used = process.cpuUsage(t0);
        min = Math.min(min, used.user + used.system);
      }
      return min;
    };
    await best(small); // warm-up
    const ratio = (await best(large)) / (await best(small));
    // 8× the keys: linear ≈ 8, quadratic ≈ 64 (the duplicate-key scan of the YAML parser was).
    assert.ok(ratio < 24, `8× the keys took ${ratio.toFixed(1)}× the time`);
  });
});

describe('issue 16 — 7: messages say in plain words what a field accepts', () => {
  it('no validator jargon; every issue says what is accepted', () => {
    const err = (() => {
      try {
        parseConfig({
          service: { name: '' },
          logging: { level: 'loud' },
          tracing: { samplerate: 1, exporter: 1, batch: { scheduled_delay: 'soon' }, propagators: 'b3' },
          cache: { type: 'redis', addresses: [], tls: 'yes', cluster: { max_redirects: -1 } },
          metrics: { port: 70000, namespace: '9x', path: 'metrics', default_labels: { __x: 'y' } },
        });
      } catch (e) {
        return e as ConfigError;
      }
    })()!;
    assert.ok(err instanceof ConfigError);
    for (const i of err.issues) {
      assert.doesNotMatch(
        `${i.message} ${i.expected} ${i.received}`,
        /\bnever\b|\bcheck\b|Invalid|Expected|"Object"/,
        i.path,
      );
      assert.ok(i.expected.length > 2, i.path);
    }
    assert.match(err.message, /tracing\.samplerate: is not a known field; did you mean `sample_rate`\?/);
    assert.match(err.message, /metrics\.port: is too large \(expected a port number from 0 to 65535/);
    assert.match(
      err.message,
      /cache\.tls: has the wrong type \(expected true, false, or a mapping of TLS settings/,
    );
  });
  it('suggests the nearest key for typos and other spellings', () => {
    const message = (raw: unknown) => {
      try {
        parseConfig(raw);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    assert.match(message({ tracing: { sampleRate: 1 } }), /did you mean `sample_rate`\?/);
    assert.match(message({ cache: { type: 'memory', max_cots: 1 } }), /did you mean `max_cost`\?/);
    assert.match(message({ tracng: {} }), /did you mean `tracing`\?/);
    assert.doesNotMatch(message({ zz: {} }), /did you mean/);
  });
});

describe('issue 16 — 8: factories reject unknown options with a suggestion', () => {
  it('suggestions: other spellings first, then at most 2 edits (a transposition is 1)', () => {
    assert.equal(editDistance('maxCots', 'maxCost'), 1);
    assert.equal(editDistance('abc', 'abcdef'), 3);
    assert.equal(suggestKey('maxCots', ['maxCost', 'numCounters']), 'maxCost');
    assert.equal(suggestKey('SAMPLE_RATE', ['sample_rate']), 'sample_rate');
    assert.equal(suggestKey('sampleRate', ['sample_rate']), 'sample_rate');
    assert.equal(suggestKey('db', ['ca', 'key']), undefined, 'short names need an exact other spelling');
    assert.equal(suggestKey('colour', ['type', 'max_cost']), undefined);
  });

  const rejects = (fn: () => unknown, hint: string) =>
    assert.throws(
      fn,
      (e: unknown) => e instanceof ConfigError && e.message.includes(`did you mean \`${hint}\`?`),
      String(fn),
    );
  it('memory, sync memory, redis, tiered, tracer, metrics — and their nested option objects', () => {
    rejects(() => createMemoryCache({ maxCots: 1 } as never), 'maxCost');
    rejects(() => createSyncMemoryCache({ maxCost: 1, defaultTTL: 5 } as never), 'defaultTtl');
    rejects(() => createRedisCache({ minIdleConns: 0, adresses: ['127.0.0.1:1'] } as never), 'addresses');
    rejects(
      () => createRedisCache({ minIdleConns: 0, cluster: { maxRedirect: 1 } } as never),
      'maxRedirects',
    );
    const l1 = createMemoryCache({ maxCost: 100 });
    const l2 = createMemoryCache({ maxCost: 100 });
    rejects(() => createTieredCache({ l1, l2, ttll: 1 } as never), 'ttl');
    rejects(() => createTieredCache({ l1, l2, breaker: { failure: 1 } } as never), 'failures');
    rejects(() => createOtelTracer({ sampelRate: 1 } as never), 'sampleRate');
    rejects(() => createOtelTracer({ batch: { maxQueueSiz: 1 } } as never), 'maxQueueSize');
    rejects(() => createMetrics({ nameSpace: 'x' } as never), 'namespace');
  });
});

describe('config: tracing headers the tracer could never send', () => {
  it('a bad header name or a control character in a value is a ConfigError with its path, the value never shown', () => {
    for (const [headers, path] of [
      [{ 'x-cust"om': 'v' }, 'tracing.headers'],
      [{ 'x api key': 'v' }, 'tracing.headers'],
      [{ authorization: 'Bearer s3cr3t\r\nx-evil: 1' }, 'tracing.headers.authorization'],
    ] as const) {
      let caught: unknown;
      try {
        parseConfig({ tracing: { headers } });
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof ConfigError, `${JSON.stringify(Object.keys(headers))} refused`);
      assert.ok(caught.message.includes(path), caught.message);
      assert.ok(!caught.message.includes('s3cr3t'), 'the value is not echoed');
    }
    // What node:http can send is accepted.
    assert.doesNotThrow(() =>
      parseConfig({ tracing: { headers: { 'x-api-key': 'a b\tc', "x-~!#$%&'*+.^_`|": 'v' } } }),
    );
  });
});

describe('config objects: a Map or Set is refused, not read as empty (found from outside)', () => {
  // The schema reads an object's own properties and a Map has none: parseConfig(new Map(…)) was
  // the all-defaults config `{}`, and `{ tracing: new Map([['sample_rate', 0.1]]) }` a tracing
  // section without its sample rate — settings dropped without a word.
  it('at the top level, as a section or inside one, with its path', () => {
    const cases: [unknown, string, RegExp][] = [
      [new Map([['service', { name: 'x' }]]), '', /is a Map/],
      [{ tracing: new Map([['sample_rate', 0.1]]) }, 'tracing', /is a Map/],
      [{ tracing: { attributes: new Map([['a', 1]]) } }, 'tracing.attributes', /is a Map/],
      [
        { cache: { type: 'redis', mode: 'cluster', addresses: new Set(['a:1', 'b:2']) } },
        'cache.addresses',
        /is a Set/,
      ],
    ];
    for (const [raw, path, why] of cases) {
      assert.throws(
        () => parseConfig(raw as Record<string, unknown>),
        (e: ConfigError) =>
          e instanceof ConfigError && e.issues.some((i) => i.path === path && why.test(i.message)),
        path || '(root)',
      );
    }
    assert.deepEqual(parseConfig({ tracing: { sample_rate: 0.1 } }), { tracing: { sample_rate: 0.1 } });
  });
});
