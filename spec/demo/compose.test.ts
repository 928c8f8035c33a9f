/**
 * compose.yml checked offline (no Docker engine here, so `docker-compose config -q` cannot run):
 * every file it mounts or builds from exists, every service it depends on is defined (with a
 * healthcheck where it waits for `service_healthy`), named volumes are declared, no host port is
 * published twice, every published port is bound to the host's loopback, environment values are
 * strings, and the Prometheus targets and Grafana datasource URLs name services and ports compose
 * defines.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => parse(readFileSync(join(root, p), 'utf8'), { merge: true }) as unknown;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, unknown>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: unknown;
}

/** `[ip:]hostPort:containerPort` (the short syntax compose.yml uses). */
function published(spec: string): { ip: string | undefined; hostPort: string } {
  const parts = spec.split(':');
  return parts.length === 3 ? { ip: parts[0], hostPort: parts[1]! } : { ip: undefined, hostPort: parts[0]! };
}

describe('demo: compose.yml offline', () => {
  const compose = read('compose.yml') as {
    services: Record<string, Service>;
    volumes?: Record<string, unknown>;
  };
  const services = compose.services;

  it('builds, mounts and runs files that exist; dependencies and volumes are defined', () => {
    const hostPorts = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.image || s.build, `${name}: an image or a build`);
      if (s.build)
        assert.ok(existsSync(join(root, s.build.context, s.build.dockerfile)), `${name}: Dockerfile`);
      for (const arg of s.command ?? [])
        if (/^demo\/.*\.ts$/.test(arg)) assert.ok(existsSync(join(root, arg)), `${name}: ${arg}`);
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('.')) assert.ok(existsSync(join(root, src)), `${name}: mounts ${src}`);
        else assert.ok(compose.volumes && src in compose.volumes, `${name}: named volume ${src} declared`);
      }
      for (const p of s.ports ?? []) {
        const { hostPort } = published(String(p));
        assert.ok(!hostPorts.has(hostPort), `host port ${hostPort} published once`);
        hostPorts.add(hostPort);
      }
      const deps = s.depends_on ?? [];
      for (const [dep, cond] of Array.isArray(deps)
        ? deps.map((d) => [d, undefined] as const)
        : Object.entries(deps)) {
        assert.ok(services[dep], `${name} depends on ${dep}, which is defined`);
        if (cond?.condition === 'service_healthy')
          assert.ok(services[dep]!.healthcheck, `${dep}: a healthcheck`);
      }
      for (const [k, v] of Object.entries(s.environment ?? {}))
        assert.equal(typeof v, 'string', `${name}: ${k} is a string (compose refuses numbers and booleans)`);
    }
  });

  // `"6379:6379"` publishes on every interface of the host (and Docker's rules bypass a host
  // firewall such as ufw): a passwordless Redis, PostgreSQL with the documented password, Grafana's
  // admin/admin and the unauthenticated /metrics reachable from the network. The README lists them
  // all as `localhost:…`.
  it('publishes every port on 127.0.0.1 only, as the README says (localhost:…)', () => {
    for (const [name, s] of Object.entries(services))
      for (const p of s.ports ?? [])
        assert.equal(published(String(p)).ip, '127.0.0.1', `${name}: ${p} is bound to 127.0.0.1`);
  });

  it('Prometheus scrapes, and Grafana reads from, services and ports compose defines', () => {
    const prom = read('demo/ops/prometheus.yml') as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    for (const job of prom.scrape_configs)
      for (const sc of job.static_configs)
        for (const target of sc.targets) {
          const [host, port] = target.split(':');
          const s = services[host!];
          assert.ok(s, `scrape target ${target}: a compose service`);
          assert.equal(s.environment?.PORT, port, `scrape target ${target}: the service's PORT`);
        }
    const ds = read('demo/ops/grafana/provisioning/datasources/datasources.yml') as {
      datasources: { url: string }[];
    };
    for (const { url } of ds.datasources) {
      const u = new URL(url);
      const s = services[u.hostname];
      assert.ok(s, `datasource ${url}: a compose service`);
      assert.ok(
        s.ports?.some((p) => String(p).endsWith(`:${u.port}`)),
        `datasource ${url}: a port the service has`,
      );
    }
    const home = services.grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    assert.ok(home.startsWith('/etc/grafana/dashboards/'));
    assert.ok(
      existsSync(join(root, 'demo/ops/grafana/dashboards', home.slice('/etc/grafana/dashboards/'.length))),
    );
  });
});
