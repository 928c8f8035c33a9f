/**
 * Property-based test of the config loader from the documented examples (fast-check): every
 * ```yaml block of the READMEs that is a config (the full example, each part's section) is
 * mutated — a field set to a value of another type, out of range, huge, unicode, a secret in a
 * field that is not secret-named; a key deleted or added (unknown, odd, reserved); a value wrapped
 * in a list or mapping; YAML damage (a duplicate key, a tag, an anchor and alias, a merge key, an
 * alias before its anchor, a second document, a tab) — and written as YAML or JSON (with a
 * duplicate key), with `HYPERION__…` overrides (secrets among them) and `OTEL_*` variables set.
 * For every case:
 *   - `loadConfigFromText` returns or throws a `ConfigError`, whose issues name fields of the input
 *     (or the environment variable that set them);
 *   - no planted secret (in a secret-named field, a header, an override) appears in a message,
 *     an issue, a cause, the printed config (`inspect`, `JSON.stringify`, `redactConfig`) or a
 *     log record; a secret put in a field that is not secret-named appears in no error;
 *   - an accepted config is built by `createAppFromConfig` with every server down (Redis at a
 *     closed port, `/metrics` on a free one), which throws nothing but a `ConfigError` (on the
 *     OpenTelemetry 3.x line also the documented `TracingError` of the Jaeger exporter or
 *     propagator, which do not exist there), and closes.
 * Written from an outside run of the same idea, which found the metrics section taking names and
 * labels createMetrics refuses (a MetricsError at build: spec/config/metrics-limits.test.ts).
 *
 * `HYPERION_CONFIG_MUTATION_RUNS` sets the number of cases (default 100, a few seconds),
 * `HYPERION_CONFIG_MUTATION_SEED` replays a failure (printed with it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import YAML from 'yaml';
import { createAppFromConfig, loadConfigFromText, redactConfig } from '../../lib/config/index.js';
import { ConfigError, TracingError } from '../../lib/core/errors.js';

const RUNS = Number(process.env.HYPERION_CONFIG_MUTATION_RUNS ?? 100);
const SEED = process.env.HYPERION_CONFIG_MUTATION_SEED
  ? Number(process.env.HYPERION_CONFIG_MUTATION_SEED)
  : undefined;
const LINE: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;

// ---------------------------------------------------------------------------------------------
// The documented examples

const DOCS = [
  'lib/config/README.md',
  'lib/tracing/README.md',
  'lib/cache/memory/README.md',
  'lib/cache/redis/README.md',
  'lib/cache/tiered/README.md',
  'lib/metrics/prometheus/README.md',
  'lib/PRODUCTION.md',
];
const SECTIONS = new Set(['service', 'logging', 'tracing', 'cache', 'metrics']);

/** Every ```yaml block of the docs that holds only config sections. */
function examples(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const file of DOCS) {
    const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
    for (const m of text.matchAll(/```ya?ml\n([\s\S]*?)```/g)) {
      const doc = YAML.parse(m[1]!) as unknown;
      if (doc && typeof doc === 'object' && Object.keys(doc).every((k) => SECTIONS.has(k)))
        out.push(doc as Record<string, unknown>);
    }
  }
  return out;
}

/** Values each field may take, to keep a share of the cases valid. */
const VALID: Record<string, readonly unknown[]> = {
  name: ['users', 'x'.repeat(300), 'ünï'],
  level: ['debug', 'error'],
  enabled: [true, false],
  exporter: ['otlp', 'zipkin', 'jaeger', 'console', 'memory', 'none'],
  endpoint: ['localhost:4318', 'https://u:p@h:4318/x?token=abc#access_token=zz'],
  sample_rate: [0, 0.25, 1],
  propagators: [[], ['b3'], ['tracecontext', 'baggage', 'jaeger']],
  max_queue_size: [1, 100, 1000000],
  max_export_batch_size: [1, 100, 512, 4096],
  scheduled_delay: [0, '250ms', 2147483647],
  export_timeout: ['1ms', '30s'],
  max_cost: [1, 67108864],
  num_counters: [1, 67108864],
  default_ttl: ['1s', '365d', '10m'],
  ttl: ['1s', '5m'],
  mode: ['standalone', 'cluster', 'sentinel', 'bus', 'tracking', 'both'],
  addresses: [['localhost:6379'], ['[::1]:6379', 'h:1']],
  db: [0, 15, 16],
  key_prefix: ['', 'app:'],
  tls: [true, false, { reject_unauthorized: false }],
  port: [0, 9464],
  host: ['127.0.0.1', '::1', '[::1]', 'localhost'],
  namespace: ['hyperion', 'n'.repeat(987), 'n'.repeat(988), 'n'.repeat(1025)],
  subsystem: ['api', 's'.repeat(600)],
  prefix: ['', 'x_', 'p'.repeat(988)],
  default_labels: [{ service: 'gw', version: 1.1 }, { a: 'é'.repeat(1025) }, { ['l'.repeat(1025)]: 'x' }],
  naming: ['otel', 'legacy'],
  attributes: [{ a: 1, b: [1, 2], c: 'x' }],
  headers: [{ 'x-a': 'b' }, {}],
  heartbeat: ['1s'],
  tracking_mode: ['default', 'bcast'],
  jitter: [0, 1],
};
const KEYS = [
  ...Object.keys(VALID),
  ...['password', 'username', 'sentinel', 'cluster', 'master_name', 'auth', 'bearer_token', 'batch'],
  ...['', '1', 'a.b', '<<', '__proto__', 'toJSON', 'Tracing', 'sampleRate', 'pasword', 'x-api-key'],
  ...['\u00a0name', 'password:hunter2', 'ключ'],
];
const scalar = fc.oneof(
  fc.constantFrom(
    ...[0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 53, 1e300, -1e300, true, false, null, '', ' ', '5m', '-5s'],
    ...['0x10', '1_000', '007', 'yes', '~', 'localhost:6379', 'redis://u:p@h:1', 'ftp://x', '/dev/zero'],
    ...[
      '\u202etxt',
      'é',
      '😀',
      'a\nb',
      'a\u0000b',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder the loader must refuse
      '${REDIS_PASSWORD}',
      '!vault',
      '*x',
      '{a: 1}',
      'ristretto',
    ],
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => 'ab'.repeat(n)),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('v'), { maxLength: 3 }),
  map: fc.dictionary(fc.constantFrom(...KEYS), tie('v'), { maxKeys: 3 }),
})).v;

const mutation = fc.record({
  at: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
  kind: fc.constantFrom('valid', 'valid', 'valid', 'set', 'set', 'delete', 'add', 'misplaced-secret', 'wrap'),
  key: fc.constantFrom(...KEYS),
  value,
});
const damage = fc.record({
  kind: fc.constantFrom(
    ...[
      'none',
      'none',
      'none',
      'none',
      'none',
      'dup',
      'tag',
      'anchor',
      'merge',
      'alias-first',
      'doc2',
      'tab',
    ],
  ),
  at: fc.nat(),
  tag: fc.constantFrom('!vault', '!env', '!!binary', '!!str', '!!int', '!include', '!'),
});
const override = fc.record({
  name: fc.constantFrom(
    ...['CACHE__PASSWORD', 'CACHE__L2__PASSWORD', 'CACHE__SENTINEL__PASSWORD', 'CACHE__TLS__KEY_PASSPHRASE'],
    ...['TRACING__HEADERS__AUTHORIZATION', 'TRACING__HEADERS', 'METRICS__AUTH__BEARER_TOKEN'],
    ...['TRACING__SAMPLE_RATE', 'TRACING__BATCH__MAX_EXPORT_BATCH_SIZE', 'CACHE__DB', 'METRICS__PORT', 'X'],
  ),
  value: fc.constantFrom('1', '0.5', '600', '[a, 1]', "'q'", '!vault x', '', 'a: b'),
  prefix: fc.constantFrom('HYPERION__', 'HYPERION__', 'HYPERION_', 'HYPERION____'),
});
const caseArb = fc.record({
  example: fc.nat(),
  mutations: fc.oneof(
    { arbitrary: fc.array(mutation, { minLength: 1, maxLength: 1 }), weight: 4 },
    { arbitrary: fc.array(mutation, { maxLength: 4 }), weight: 1 },
  ),
  damage,
  json: fc.boolean(),
  duplicate: fc.integer({ min: -1, max: 4 }),
  overrides: fc.oneof(
    { arbitrary: fc.constant([]), weight: 3 },
    { arbitrary: fc.array(override, { maxLength: 3 }), weight: 1 },
  ),
  otel: fc.dictionary(
    fc.constantFrom(
      'OTEL_BSP_MAX_QUEUE_SIZE',
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      'OTEL_TRACES_EXPORTER',
      'OTEL_EXPORTER_OTLP_HEADERS',
    ),
    fc.constantFrom('100', '600', '5000', 'abc', 'none', 'x-api-key=PLANTEDOTELSECRET'),
    { maxKeys: 2 },
  ),
});

// ---------------------------------------------------------------------------------------------
// Applying a case

type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

let planted = 0;
const newSecret = () => `PLANTED${(++planted).toString(36)}Z${Math.floor(Math.random() * 1e9).toString(36)}`;

/** The mappings and lists of `root`, with their paths. */
function containers(root: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (n: unknown) => {
    if (n === null || typeof n !== 'object') return;
    out.push(n as Record<string, unknown>);
    for (const v of Object.values(n)) walk(v);
  };
  walk(root);
  return out;
}

function mutate(doc: unknown, m: Of<typeof mutation>, loose: string[]): void {
  const all = containers(doc);
  const node = all[m.at[0]! % all.length]!;
  const keys = Object.keys(node);
  const key = keys.length > 0 && m.kind !== 'add' ? keys[m.at[1]! % keys.length]! : m.key;
  // defineProperty: `__proto__` is a key, not the prototype.
  const set = (k: string, v: unknown) =>
    Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true });
  switch (m.kind) {
    case 'valid': {
      const own = keys.filter((k) => Object.hasOwn(VALID, k));
      if (own.length === 0) return;
      const k = own[m.at[1]! % own.length]!;
      set(k, structuredClone(VALID[k]![m.at[2]! % VALID[k]!.length]));
      return;
    }
    case 'set':
    case 'add':
      return void set(key, m.value);
    case 'delete':
      if (Array.isArray(node)) node.splice(Number(key), 1);
      else delete node[key];
      return;
    case 'misplaced-secret': {
      const s = newSecret();
      // A file path is shown in the error saying it cannot be read (documented), unless it may be
      // the secret itself (README: not a path, under a secret-named field or key_file).
      if (!key.endsWith('_file') || key === 'key_file' || /pass|token|auth/.test(key)) loose.push(s);
      return void set(key, s);
    }
    case 'wrap':
      return void set(key, m.at[2]! % 2 ? [node[key]] : { [m.key]: node[key] });
  }
}

/** Secret-named fields of the examples get a planted secret each. */
function plant(doc: unknown, strict: string[]): void {
  for (const node of containers(doc)) {
    if (Array.isArray(node)) continue;
    for (const k of Object.keys(node)) {
      if (/pass(word|phrase)|token$/.test(k) && typeof node[k] === 'string') node[k] = newSecret();
      if (k === 'headers' && node[k] && typeof node[k] === 'object')
        for (const h of Object.keys(node[k] as object)) (node[k] as Record<string, string>)[h] = newSecret();
      if (typeof node[k] === 'string' && (node[k] as string).startsWith('PLANTED'))
        strict.push(node[k] as string);
    }
  }
}

function damaged(text: string, d: Of<typeof damage>): string {
  const lines = text.split('\n');
  const keyed = lines.flatMap((l, i) => (/^\s*[^\s#:-][^:]*:( |$)/.test(l) ? [i] : []));
  if (keyed.length === 0 || d.kind === 'none') return text;
  const i = keyed[d.at % keyed.length]!;
  const line = lines[i]!;
  const indent = /^\s*/.exec(line)![0];
  switch (d.kind) {
    case 'dup':
      lines.splice(i + 1, 0, line);
      break;
    case 'tag':
      lines[i] = line.replace(/:( |$)/, `: ${d.tag} `);
      break;
    case 'anchor':
      lines[i] = line.replace(/:( |$)/, ': &a1 ');
      lines.push('metrics: *a1');
      break;
    case 'merge':
      lines.splice(i + 1, 0, `${indent}<<: *b1`);
      lines.unshift('base: &b1 {x: 1}');
      break;
    case 'alias-first':
      lines.splice(i, 0, `${indent}early: *later`);
      lines.push('later: &later 1');
      break;
    case 'doc2':
      lines.push('---', line.trim());
      break;
    case 'tab':
      lines[i] = `\t${line}`;
      break;
  }
  return lines.join('\n');
}

/** JSON text, with the first key of the `duplicate`-th object written twice. */
function json(x: unknown, duplicate: number): string {
  let n = 0;
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).map(([k, e]) => `${JSON.stringify(k)}:${write(e)}`);
      if (entries.length > 0 && n++ === duplicate) entries.push(entries[0]!);
      return `{${entries.join(',')}}`;
    }
    return JSON.stringify(v) ?? 'null';
  };
  return write(x);
}

/** Every text an error carries: message, issues, causes, inspected. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  for (
    let e = err as { message?: unknown; issues?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 8;
    i++
  ) {
    parts.push(String(e.message), JSON.stringify(e.issues ?? null), inspect(e, { depth: 8 }));
    e = e.cause as typeof e;
  }
  return parts.join('\n');
}

/**
 * True when `path` (dotted; segments below a secret-named field shown as `…`) leads through the
 * input to the parent of its last key (which may be missing: a required field). A key may hold
 * dots itself (`deployment.environment.name`, an attribute): every split is tried.
 */
function namesInput(root: unknown, path: string): boolean {
  // An empty key is shown as `""` (`tracing."".heartbeat`).
  const segments = path.split('.').map((s) => (s === '""' ? '' : s));
  const reach = (node: unknown, i: number): boolean => {
    if (i >= segments.length - 1 || segments[i]!.endsWith('…')) return true;
    if (node === null || typeof node !== 'object') return false;
    if (Object.hasOwn(node, segments.slice(i).join('.'))) return true;
    for (let j = i + 1; j < segments.length; j++) {
      const key = segments.slice(i, j).join('.');
      if (Object.hasOwn(node, key) && reach((node as Record<string, unknown>)[key], j)) return true;
    }
    return false;
  };
  return reach(root, 0);
}

/**
 * True for the documented refusal of the Jaeger (thrift) exporter or propagator on the OpenTelemetry
 * 3.x line (lib/tracing/README.md: they do not exist upstream, a `TracingError` points to OTLP),
 * for a config that names them: `jaeger` is a valid value of both, and the 3.x run met it (seed
 * 1911110173: `tracing.exporter` of the full example set to `jaeger`).
 */
function jaegerOnLine3(err: unknown, config: Record<string, unknown>): err is TracingError {
  const tracing = config.tracing as { exporter?: unknown; propagators?: unknown } | undefined;
  const names =
    tracing?.exporter === 'jaeger' ||
    (Array.isArray(tracing?.propagators) && tracing.propagators.includes('jaeger'));
  return (
    LINE === 3 &&
    names &&
    err instanceof TracingError &&
    (err.code === 'otel_exporter_unsupported' || err.code === 'otel_propagator_unsupported')
  );
}

/**
 * The case of seed 1911110173, written against the docs as they are: the first example with a
 * `tracing.exporter`, that field set to `jaeger` (a `valid` mutation), nothing else changed.
 */
function jaegerExporterCase(): Of<typeof caseArb> {
  const docs = examples();
  const example = docs.findIndex((d) => typeof (d.tracing as { exporter?: unknown })?.exporter === 'string');
  assert.ok(example >= 0, 'no documented example sets tracing.exporter');
  const tracing = docs[example]!.tracing as Record<string, unknown>;
  const at = [
    containers(docs[example]).indexOf(tracing),
    Object.keys(tracing)
      .filter((k) => Object.hasOwn(VALID, k))
      .indexOf('exporter'),
    VALID.exporter!.indexOf('jaeger'),
  ];
  return {
    example,
    mutations: [{ at, kind: 'valid', key: 'exporter', value: null }],
    damage: { kind: 'none', at: 0, tag: '!' },
    json: false,
    duplicate: -1,
    overrides: [],
    otel: {},
  };
}

// ---------------------------------------------------------------------------------------------
// The property

const silent = { debug() {}, info() {}, warn() {}, error() {} };
let downPort = 0;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
const savedOtel = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('OTEL_')));
const stats = { cases: 0, accepted: 0, built: 0, refusedAtBuild: 0 };

before(async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  downPort = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  process.on('unhandledRejection', onUnhandled);
});
after(() => {
  process.off('unhandledRejection', onUnhandled);
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) delete process.env[k];
  Object.assign(process.env, savedOtel);
});

/** Servers down: Redis at a closed port, `/metrics` on a free one (nothing else listens). */
function serversDown(config: unknown): Record<string, unknown> {
  const c = structuredClone(config) as Record<string, Record<string, unknown> | undefined>;
  for (const r of [c.cache, c.cache?.l2 as Record<string, unknown> | undefined]) {
    if (r?.type !== 'redis') continue;
    r.addresses = ((r.addresses as unknown[] | undefined) ?? ['x']).map(
      (_, i) => `127.0.0.${i + 1}:${downPort}`,
    );
    const sentinel = r.sentinel as Record<string, unknown> | undefined;
    if (sentinel?.sentinel_addresses) sentinel.sentinel_addresses = [`127.0.0.1:${downPort}`];
    r.dial_timeout = 200;
  }
  if (c.metrics?.port !== undefined) c.metrics = { ...c.metrics, port: 0, host: '127.0.0.1' };
  return c;
}

async function check(c: Of<typeof caseArb>): Promise<void> {
  stats.cases++;
  const docs = examples();
  const doc = structuredClone(docs[c.example % docs.length]!);
  const strict: string[] = [];
  const loose: string[] = [];
  plant(doc, strict);
  for (const m of c.mutations) mutate(doc, m, loose);
  const text = c.json ? json(doc, c.duplicate) : damaged(YAML.stringify(doc, { lineWidth: 0 }), c.damage);
  const env: Record<string, string> = {};
  for (const o of c.overrides) {
    const secret = /PASSWORD|PASSPHRASE|TOKEN|HEADERS/.test(o.name) ? newSecret() : undefined;
    if (secret) strict.push(secret);
    env[`${o.prefix}${o.name}`] =
      secret === undefined ? o.value : o.name === 'TRACING__HEADERS' ? `{authorization: ${secret}}` : secret;
  }
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) delete process.env[k];
  Object.assign(process.env, c.otel);
  // A header value is a secret; a count variable's bad value is shown (documented).
  if (c.otel.OTEL_EXPORTER_OTLP_HEADERS?.includes('PLANTED')) strict.push('PLANTEDOTELSECRET');
  for (const [k, v] of Object.entries(c.otel))
    if (k !== 'OTEL_EXPORTER_OTLP_HEADERS' && String(v).includes('PLANTED')) process.env[k] = 'x=1';
  const where = `\n--- input (${c.json ? 'JSON' : 'YAML'}):\n${text.slice(0, 1500)}\n--- env ${JSON.stringify(env)} ${JSON.stringify(c.otel)}`;
  const none = (what: string, out: string, secrets: readonly string[]) => {
    for (const s of secrets)
      assert.ok(!out.includes(s), `${what} shows the planted ${s}:\n${out.slice(0, 1500)}${where}`);
  };

  let config: Record<string, unknown>;
  try {
    config = loadConfigFromText(text, { format: c.json ? 'json' : 'yaml', env, source: 'fuzz' }) as Record<
      string,
      unknown
    >;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${inspect(err)}${where}`);
    none('the load error', errorText(err), [...strict, ...loose]);
    let input: unknown;
    try {
      input = c.json
        ? JSON.parse(text)
        : YAML.parse(text, { uniqueKeys: false, merge: false, logLevel: 'silent' });
    } catch {
      return; // a syntax error: its issues name a line
    }
    for (const issue of err.issues) {
      if (/environment variable|^(HYPERION|OTEL_)|^$|^options/.test(`${issue.path} ${issue.message}`.trim()))
        continue;
      // A field required in a section that is missing too (`sentinel.master_name` in sentinel mode).
      const path = issue.message.startsWith('is required')
        ? issue.path.split('.').slice(0, -1).join('.')
        : issue.path;
      assert.ok(
        namesInput(input, path) || namesInput(doc, path),
        `issue ${issue.path} (${issue.message}) names no field of the input${where}`,
      );
    }
    return;
  }
  stats.accepted++;
  none('the printed config', `${inspect(config, { depth: 12 })}\n${JSON.stringify(config)}`, strict);
  none('redactConfig', JSON.stringify(redactConfig(structuredClone(config))), strict);

  const records: string[] = [];
  const logger = {
    ...silent,
    warn: (...a: unknown[]) => void records.push(inspect(a, { depth: 8 })),
    error: (...a: unknown[]) => void records.push(inspect(a, { depth: 8 })),
  };
  try {
    const app = await createAppFromConfig(serversDown(config) as never, { logger, disposeTimeoutMs: 2000 });
    stats.built++;
    await app.close();
  } catch (err) {
    assert.ok(
      err instanceof ConfigError || jaegerOnLine3(err, config),
      `createAppFromConfig threw ${inspect(err)}${where}`,
    );
    stats.refusedAtBuild++;
    if (process.env.HYPERION_CONFIG_MUTATION_DEBUG)
      process.stdout.write(`# refused at build: ${err.message.split('\n')[0]}\n`);
    none('the build error', errorText(err), [...strict, ...loose]);
  }
  none('a log record', records.join('\n'), strict);
  assert.deepEqual(unhandled, [], `unhandled rejection${where}`);
}

describe('config: mutations of the documented examples (fast-check)', () => {
  it(`a documented example set to exporter jaeger loads, and builds (2.x) or gets the documented TracingError (3.x)`, async () => {
    const accepted = stats.accepted;
    await check(jaegerExporterCase());
    assert.equal(stats.accepted, accepted + 1, 'the case loads');
  });

  it(`${RUNS} cases: a ConfigError naming input fields or a config that builds with servers down; no secret shown`, async () => {
    assert.ok(examples().length >= 6, 'the docs lost their config examples');
    const seed = SEED ?? Date.now() ^ (Math.random() * 0x7fffffff);
    try {
      await fc.assert(fc.asyncProperty(caseArb, check), { numRuns: RUNS, seed, endOnFailure: true });
    } catch (err) {
      throw new Error(
        `config mutation fuzz failed with seed ${seed} (replay: HYPERION_CONFIG_MUTATION_SEED=${seed})\n${(err as Error).message}`,
        { cause: err },
      );
    }
    assert.ok(stats.accepted > 0 && stats.accepted < stats.cases, JSON.stringify(stats));
    process.stdout.write(`# config mutations: seed ${seed}, ${JSON.stringify(stats)}\n`);
  });
});
