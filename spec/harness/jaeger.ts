/**
 * A real Jaeger v2 (all-in-one) on free loopback ports, with its OTLP/HTTP, Zipkin and Jaeger
 * thrift-over-HTTP receivers, in-memory storage and the query HTTP API. Build the binary once with
 * `go build` from the v1.76.0 module source (see .ci/install-jaeger.sh); `go install …@v1.76.0`
 * refuses the module because of its replace directives.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinary, freePort, portOpen, type ServerProcess, startProcess, tempDir } from './process.js';

/** How to get the binary, for `skipUnless`. */
export const JAEGER_INSTALL_HINT =
  'go mod download github.com/jaegertracing/jaeger@v1.76.0; cp -r "$(go env GOMODCACHE)/github.com/jaegertracing/jaeger@v1.76.0" /tmp/jaeger-src; chmod -R u+w /tmp/jaeger-src; cd /tmp/jaeger-src && go build -o "$(go env GOPATH)/bin/jaeger" ./cmd/jaeger';

/** One span as Jaeger's query API (`/api/traces`) returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  logs: { timestamp: number; fields: { key: string; type: string; value: unknown }[] }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

export interface Jaeger {
  /** OTLP/HTTP traces URL (`…/v1/traces`). */
  readonly otlpEndpoint: string;
  /** Zipkin v2 JSON URL (`…/api/v2/spans`). */
  readonly zipkinEndpoint: string;
  /** Jaeger thrift-over-HTTP URL (`…/api/traces`). */
  readonly jaegerEndpoint: string;
  /** Base URL of the query service (UI + `/api/...`). */
  readonly queryUrl: string;
  /** The trace with this id, or `undefined` while Jaeger has none. */
  getTrace(traceId: string): Promise<JaegerTrace | undefined>;
  /** Recent traces of a service (last hour, up to `limit`). */
  findTraces(service: string, limit?: number): Promise<JaegerTrace[]>;
  /** Jaeger's log output so far, for failure messages. */
  output(): string;
  /** Its process id: SIGSTOP freezes the collector (connections accepted, never answered), SIGCONT thaws it. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface StartJaegerOptions {
  /** TLS on the OTLP/HTTP receiver (then `otlpEndpoint` is https). */
  otlpTls?: {
    cert: string;
    key: string;
    /** Require client certificates signed by this CA (mutual TLS). */
    clientCa?: string;
  };
  /** Require HTTP basic auth on the OTLP/HTTP receiver (the collector's `basicauth` extension). */
  otlpBasicAuth?: { username: string; password: string };
}

function otlpHttp(port: number, o: StartJaegerOptions): string {
  const lines = [`        endpoint: 127.0.0.1:${port}`];
  if (o.otlpTls) {
    lines.push('        tls:', `          cert_file: ${JSON.stringify(o.otlpTls.cert)}`);
    lines.push(`          key_file: ${JSON.stringify(o.otlpTls.key)}`);
    if (o.otlpTls.clientCa) lines.push(`          client_ca_file: ${JSON.stringify(o.otlpTls.clientCa)}`);
  }
  if (o.otlpBasicAuth) lines.push('        auth:', '          authenticator: basicauth/otlp');
  return lines.join('\n');
}

function basicAuthExtension(o: StartJaegerOptions): string {
  if (!o.otlpBasicAuth) return '';
  const { username, password } = o.otlpBasicAuth;
  return `
  basicauth/otlp:
    htpasswd:
      inline: |
        ${username}:${password}`;
}

function config(
  p: {
    otlp: number;
    zipkin: number;
    thrift: number;
    query: number;
    queryGrpc: number;
  },
  o: StartJaegerOptions,
): string {
  return `
service:
  extensions: [jaeger_storage, jaeger_query${o.otlpBasicAuth ? ', basicauth/otlp' : ''}]
  pipelines:
    traces:
      receivers: [otlp, jaeger, zipkin]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    # Jaeger would trace itself to localhost:4317 otherwise.
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:${p.query}
    grpc:
      endpoint: 127.0.0.1:${p.queryGrpc}${basicAuthExtension(o)}

receivers:
  otlp:
    protocols:
      http:
${otlpHttp(p.otlp, o)}
  jaeger:
    protocols:
      thrift_http:
        endpoint: 127.0.0.1:${p.thrift}
  zipkin:
    endpoint: 127.0.0.1:${p.zipkin}

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** Starts Jaeger; resolves once the query API answers and every receiver port accepts connections. */
export async function startJaeger(options: StartJaegerOptions = {}): Promise<Jaeger> {
  const binary = findBinary('jaeger');
  if (!binary) throw new Error(`jaeger binary not found — ${JAEGER_INSTALL_HINT}`);
  // Ports are picked free, then bound by Jaeger a moment later: another process (tests run in
  // parallel) can take one meanwhile ('bind: address already in use'), so retry with new ones.
  let started:
    | { dir: Awaited<ReturnType<typeof tempDir>>; ports: JaegerPorts; proc: ServerProcess }
    | undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    try {
      started = await startOnce(binary, options);
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String((err as Error).message))) throw err;
    }
  }
  if (!started) throw lastError;
  const { dir, ports, proc } = started;
  const queryUrl = `http://127.0.0.1:${ports.query}`;

  const getJson = async (path: string): Promise<unknown> => {
    const res = await fetch(`${queryUrl}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`jaeger query ${path}: HTTP ${res.status} ${body.slice(0, 300)}`);
    return JSON.parse(body);
  };

  return {
    otlpEndpoint: `${options.otlpTls ? 'https' : 'http'}://127.0.0.1:${ports.otlp}/v1/traces`,
    zipkinEndpoint: `http://127.0.0.1:${ports.zipkin}/api/v2/spans`,
    jaegerEndpoint: `http://127.0.0.1:${ports.thrift}/api/traces`,
    queryUrl,
    async getTrace(traceId) {
      const body = (await getJson(`/api/traces/${traceId}`)) as { data?: JaegerTrace[] } | undefined;
      return body?.data?.[0];
    },
    async findTraces(service, limit = 100) {
      const q = new URLSearchParams({ service, limit: String(limit), lookback: '1h' });
      const body = (await getJson(`/api/traces?${q}`)) as { data?: JaegerTrace[] } | undefined;
      return body?.data ?? [];
    },
    output: () => proc.output(),
    pid: proc.child.pid,
    async stop() {
      // A frozen Jaeger would ignore SIGTERM until the SIGKILL.
      if (proc.child.pid !== undefined && !proc.exited) process.kill(proc.child.pid, 'SIGCONT');
      try {
        await proc.stop();
      } finally {
        await dir.remove();
      }
    },
  };
}

interface JaegerPorts {
  otlp: number;
  zipkin: number;
  thrift: number;
  query: number;
  queryGrpc: number;
}

/** One start on freshly picked ports; the temp dir is removed when it fails. */
async function startOnce(
  binary: string,
  options: StartJaegerOptions,
): Promise<{ dir: Awaited<ReturnType<typeof tempDir>>; ports: JaegerPorts; proc: ServerProcess }> {
  const dir = await tempDir('jaeger');
  const ports: JaegerPorts = {
    otlp: await freePort(),
    zipkin: await freePort(),
    thrift: await freePort(),
    query: await freePort(),
    queryGrpc: await freePort(),
  };
  const file = join(dir.path, 'jaeger.yaml');
  await writeFile(file, config(ports, options));
  const queryUrl = `http://127.0.0.1:${ports.query}`;
  try {
    const proc = await startProcess({
      name: 'jaeger',
      command: binary,
      args: ['--config', file],
      cwd: dir.path,
      readyTimeoutMs: 30_000,
      ports: Object.values(ports),
      ready: async () => {
        const res = await fetch(`${queryUrl}/api/services`).catch(() => undefined);
        if (!res?.ok) return false;
        await res.arrayBuffer();
        for (const port of [ports.otlp, ports.zipkin, ports.thrift])
          if (!(await portOpen(port))) return false;
        return true;
      },
    });
    return { dir, ports, proc };
  } catch (err) {
    await dir.remove();
    throw err;
  }
}
