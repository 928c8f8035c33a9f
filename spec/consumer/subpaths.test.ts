/**
 * Every subpath but `hyperion/tracing/otel` (otel-line.test.ts) in its own fresh consumer project:
 * the package built and packed once, each project installs the tarball with only the peers its
 * subpath needs (the versions the root's devDependencies pin) with no peer or engine warning,
 * typechecks a small application against our declarations with `skipLibCheck: false`, and runs it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { describeWithServers, startAll, tempDir } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';
import { buildAndPack, INSTALL_WARNING, installProject, root, run, typecheck } from './project.js';

// biome-ignore lint/suspicious/noExplicitAny: package.json files
const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8'));
const devDependencies: Record<string, string> = readJson(join(root, 'package.json')).devDependencies;
/** A peer at the version range the repository develops against. */
const peer = (name: string) => `${name}@${devDependencies[name]}`;

const CORE = `import { createApp, createNoopCache, jsonCache, type App } from 'hyperion';

const app: App = createApp({});
const users = jsonCache<{ name: string }>(createNoopCache());
await users.set('u1', { name: 'ada' });
const missing = await users.get('u1');
await app.close();
console.log(JSON.stringify({ missing: missing === undefined }));
`;

const TRACING = `import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from 'hyperion';
import { createPropagateOnlyTracer, tracedFetch, traceHandler, type HttpHandler } from 'hyperion/tracing';

const app = createApp({ tracer: createPropagateOnlyTracer() });
let seen: string | undefined;
const backend = createServer((req, res) => {
  seen = req.headers.traceparent as string | undefined;
  res.end('backend');
});
await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
const backendPort = (backend.address() as AddressInfo).port;
const handler: HttpHandler = async (ctx, _req, res) => {
  const r = await tracedFetch(ctx, \`http://127.0.0.1:\${backendPort}/data\`);
  res.end(await r.text());
};
const front = createServer(traceHandler(app.ctx, handler, { route: '/front' }));
await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
const frontPort = (front.address() as AddressInfo).port;
const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const res = await fetch(\`http://127.0.0.1:\${frontPort}/front\`, { headers: { traceparent: incoming } });
const body = await res.text();
front.close();
backend.close();
await app.close();
console.log(JSON.stringify({ status: res.status, body, seen }));
`;

const MEMORY = `import { createMemoryCache, type MemoryCache } from 'hyperion/cache/memory';

const cache: MemoryCache = createMemoryCache({ maxCost: 1 << 20 });
const stored = await cache.set('k', new TextEncoder().encode('v'));
const value = await cache.get('k');
await cache.close();
console.log(JSON.stringify({ stored, value: value && new TextDecoder().decode(value) }));
`;

const TIERED = `import { createMemoryCache } from 'hyperion/cache/memory';
import { createTieredCache, type TieredCache } from 'hyperion/cache/tiered';

const l1 = createMemoryCache({ maxCost: 1 << 20 });
const l2 = createMemoryCache({ maxCost: 1 << 20 });
const cache: TieredCache = createTieredCache({ l1, l2, ttl: 60_000 });
let loads = 0;
const load = () => {
  loads += 1;
  return new TextEncoder().encode('v');
};
const first = await cache.getOrSet('k', load, 60_000);
const second = await cache.getOrSet('k', load, 60_000);
const inL2 = await l2.has('k');
await cache.close();
console.log(JSON.stringify({ value: new TextDecoder().decode(second), same: first.length === second.length, loads, inL2 }));
`;

const REDIS = `import { type AclScope, aclRules, createRedisCache, type RedisCache, sentinelAclRules } from 'hyperion/cache/redis';

// The least-privilege ACL lines lib/PRODUCTION.md shows.
const scope: AclScope = { keyPrefix: 'consumer:', mode: 'standalone' };
const acl = \`ACL SETUSER app on >PASSWORD \${aclRules(scope).join(' ')}\`;
const sentinelRules = sentinelAclRules().length;

// Constructed and closed with no server behind the address.
const idle: RedisCache = createRedisCache({ addresses: ['127.0.0.1:1'], minIdleConns: 0, dialTimeout: 200 });
await idle.close();
// And against a real server.
const cache = createRedisCache({ addresses: [\`127.0.0.1:\${process.env.REDIS_PORT}\`], keyPrefix: 'consumer:' });
const stored = await cache.set('k', new TextEncoder().encode('v'), 60_000);
const value = await cache.get('k');
await cache.close();
console.log(JSON.stringify({ stored, value: value && new TextDecoder().decode(value), acl: acl.split(' ').includes('~consumer:*'), sentinelRules }));
`;

const PROMETHEUS = `import { createMetrics, type PrometheusMetrics } from 'hyperion/metrics/prometheus';

const metrics: PrometheusMetrics = createMetrics({ namespace: 'consumer', port: 0, host: '127.0.0.1' });
metrics.counter({ name: 'jobs_total', help: 'Jobs done.', labelNames: ['kind'] }).inc({ kind: 'email' }, 2);
const address = await metrics.listen();
const res = await fetch(address!.url);
const text = await res.text();
await metrics.close();
console.log(JSON.stringify({ status: res.status, line: text.split('\\n').find((l) => l.startsWith('consumer_jobs_total')) }));
`;

const CONFIG_YAML = `service: { name: consumer }
logging: { level: error }
tracing: { exporter: none }
cache: { type: memory, max_cost: 1048576 }
metrics: { enabled: false }
`;
const CONFIG = `import { fileURLToPath } from 'node:url';
import { createAppFromConfig, loadConfig, type HyperionConfig } from 'hyperion/config';

const config: HyperionConfig = await loadConfig(fileURLToPath(new URL('../app.yaml', import.meta.url)), { env: {} });
const app = await createAppFromConfig(config);
const value = await app.cache.getOrSet('k', () => new TextEncoder().encode('v'), 60_000);
const cache = app.cache.name;
await app.close();
console.log(JSON.stringify({ cache, value: new TextDecoder().decode(value) }));
`;

interface Case {
  subpath: string;
  peers: readonly string[];
  app: string;
  extraFiles?: Record<string, string>;
  env?: () => NodeJS.ProcessEnv;
  expect: unknown;
}

let redis: RedisStandalone | undefined;

const CASES: Case[] = [
  { subpath: 'hyperion', peers: [], app: CORE, expect: { missing: true } },
  {
    subpath: 'hyperion/tracing',
    peers: [],
    app: TRACING,
    // The backend got the incoming trace id under a new span id.
    expect: { status: 200, body: 'backend', seen: 'match' },
  },
  { subpath: 'hyperion/cache/memory', peers: [], app: MEMORY, expect: { stored: true, value: 'v' } },
  {
    subpath: 'hyperion/cache/tiered',
    peers: [],
    app: TIERED,
    expect: { value: 'v', same: true, loads: 1, inL2: true },
  },
  {
    subpath: 'hyperion/cache/redis',
    peers: [peer('iovalkey')],
    app: REDIS,
    env: () => ({ REDIS_PORT: String(redis!.port) }),
    expect: { stored: true, value: 'v', acl: true, sentinelRules: 10 },
  },
  {
    subpath: 'hyperion/metrics/prometheus',
    peers: [peer('prom-client')],
    app: PROMETHEUS,
    expect: { status: 200, line: 'consumer_jobs_total{kind="email"} 2' },
  },
  {
    subpath: 'hyperion/config',
    peers: [peer('yaml'), peer('valibot')],
    app: CONFIG,
    extraFiles: { 'app.yaml': CONFIG_YAML },
    expect: { cache: 'memory', value: 'v' },
  },
];

/** Projects installed at once: npm and tsc each keep about one core busy. */
const PARALLEL = 2;

describeWithServers(`consumer projects, one per subpath (Node ${process.version})`, skipRedis(), () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let tarball: string;
  const results = new Map<string, Promise<unknown>>();

  before(async () => {
    [dir, redis] = await startAll([tempDir('consumer-subpaths'), startRedis()]);
    tarball = await buildAndPack(dir.path);
    // Every project starts now, PARALLEL at a time; each test awaits its own.
    const queue = [...CASES];
    const gates: Promise<void>[] = [];
    const started = new Map<string, (v: Promise<unknown>) => void>();
    for (const c of CASES) {
      const result = new Promise<unknown>((resolve) => started.set(c.subpath, resolve));
      result.catch(() => {}); // awaited by the test of its subpath
      results.set(c.subpath, result);
    }
    for (let i = 0; i < PARALLEL; i++) {
      gates.push(
        (async () => {
          for (let c = queue.shift(); c; c = queue.shift()) {
            const p = consumer(c);
            started.get(c.subpath)!(p);
            await p.catch(() => {});
          }
        })(),
      );
    }
  });
  after(async () => {
    await Promise.allSettled([...results.values()]);
    await Promise.allSettled([redis?.stop(), dir?.remove()]);
  });

  async function consumer(c: Case): Promise<unknown> {
    const project = join(dir.path, c.subpath.replaceAll('/', '-'));
    const install = await installProject(project, tarball, c.peers, 120_000);
    assert.doesNotMatch(install, INSTALL_WARNING, install);
    // Only the peers asked for: no other optional peer of ours came along,
    // except as a dependency of one asked for (prom-client depends on @opentelemetry/api).
    const asked = c.peers.map((p) => p.slice(0, p.lastIndexOf('@')));
    const brought = new Set(
      asked.flatMap((name) =>
        Object.keys(readJson(join(project, 'node_modules', name, 'package.json')).dependencies ?? {}),
      ),
    );
    for (const name of Object.keys(readJson(join(root, 'package.json')).peerDependencies)) {
      const present = existsSync(join(project, 'node_modules', name, 'package.json'));
      assert.equal(
        present,
        asked.includes(name) || brought.has(name),
        `${c.subpath}: ${name} installed: ${present}`,
      );
    }
    for (const [name, text] of Object.entries(c.extraFiles ?? {})) writeFileSync(join(project, name), text);
    await typecheck(project, { 'app.ts': c.app });
    const out = await run(process.execPath, [join(project, 'out/app.js')], project, 30_000, c.env?.());
    return JSON.parse(out.trim().split('\n').pop()!);
  }

  for (const c of CASES) {
    it(`${c.subpath}: installs with only its peers, typechecks strictly and runs`, {
      timeout: 300_000,
    }, async () => {
      const result = (await results.get(c.subpath)) as Record<string, unknown>;
      if (c.subpath === 'hyperion/tracing') {
        const seen = String(result.seen);
        assert.match(seen, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
        assert.notEqual(seen.split('-')[2], '00f067aa0ba902b7');
        result.seen = 'match';
      }
      assert.deepEqual(result, c.expect);
    });
  }
});
