/**
 * A real Prometheus (Debian's `prometheus` binary) for tests: generated prometheus.yml scraping the
 * given targets every second, storage in a temp dir, the web API on a free 127.0.0.1 port (it
 * binds 0.0.0.0 otherwise). `stop()` is idempotent and removes the temp dir.
 *
 *   describeWithServers('x', skipPrometheus(), () => {
 *     let prom: PrometheusServer;
 *     before(async () => { prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] }); });
 *     after(() => prom?.stop());
 *   });
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  findBinary,
  freePort,
  type ServerProcess,
  skipUnless,
  startProcess,
  tempDir,
  waitFor,
} from './process.js';

/** Skip reason for describe blocks needing Prometheus, or `false` when it is installed. */
export function skipPrometheus(): string | false {
  return skipUnless(['prometheus'], 'apt-get install -y prometheus');
}

/** Skip reason for tests needing `promtool`. */
export function skipPromtool(): string | false {
  return skipUnless(['promtool'], 'apt-get install -y prometheus');
}

/** One element of an instant-query result vector. */
export interface PromSample {
  readonly metric: Record<string, string>;
  /** The sample value as a number (Prometheus sends strings). */
  readonly value: number;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  readonly port: number;
  readonly process: ServerProcess;
  /** Instant query; rejects on a Prometheus error (bad PromQL) or a non-vector result. */
  query(promql: string): Promise<PromSample[]>;
  /** Polls `query(promql)` until `predicate` holds on the result; returns that result. */
  waitForSeries(
    promql: string,
    predicate?: (samples: PromSample[]) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<PromSample[]>;
  /** Raw GET of an API path (`/api/v1/targets`), parsed as JSON. */
  api(path: string): Promise<unknown>;
  /** Stops Prometheus and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** `host:port` targets scraped at `/metrics` every second (job `hyperion`). */
  scrapeTargets?: readonly string[];
  /** Metrics path of the targets. Default `/metrics`. */
  metricsPath?: string;
  /**
   * A full prometheus.yml instead of the generated one. `${PROM_PORT}` is replaced by
   * Prometheus's own port; `${VAR}` by `vars.VAR`.
   */
  configText?: string;
  vars?: Readonly<Record<string, string | number>>;
  /** Extra `--enable-feature` values, e.g. `exemplar-storage`. */
  features?: readonly string[];
  /** Readiness timeout in ms. Default 30 000. */
  readyTimeoutMs?: number;
}

function generatedConfig(targets: readonly string[], metricsPath: string): string {
  return [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: hyperion',
    `    metrics_path: ${JSON.stringify(metricsPath)}`,
    '    static_configs:',
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
}

/** Starts Prometheus; on failure it cleans up what it started and rethrows with its output. */
export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<PrometheusServer> {
  const bin = findBinary('prometheus');
  if (!bin) throw new Error('prometheus is not installed (apt-get install -y prometheus)');
  const dir = await tempDir('prometheus');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let text =
    options.configText ?? generatedConfig(options.scrapeTargets ?? [], options.metricsPath ?? '/metrics');
  const vars: Record<string, string | number> = { PROM_PORT: port, ...options.vars };
  text = text.replace(/\$\{([A-Z0-9_]+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
  const configPath = join(dir.path, 'prometheus.yml');
  await writeFile(configPath, text);

  const args = [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir.path, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ];
  for (const f of options.features ?? []) args.push(`--enable-feature=${f}`);

  const get = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data?: unknown };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };

  let proc: ServerProcess;
  try {
    proc = await startProcess({
      name: 'prometheus',
      command: bin,
      args,
      cwd: dir.path,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      ports: [port],
      ready: async () => {
        try {
          const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
          return r.status === 200;
        } catch {
          return false;
        }
      },
    });
  } catch (err) {
    await dir.remove();
    throw err;
  }

  const query = async (promql: string): Promise<PromSample[]> => {
    const data = (await get(`/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    };
    if (data.resultType !== 'vector')
      throw new Error(`expected a vector from ${promql}, got ${data.resultType}`);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    process: proc,
    query,
    api: get,
    async waitForSeries(promql, predicate = (s) => s.length > 0, { timeoutMs = 30_000 } = {}) {
      let last: PromSample[] = [];
      try {
        return await waitFor(
          async () => {
            last = await query(promql);
            return predicate(last) ? last : undefined;
          },
          { timeoutMs, intervalMs: 250, what: `prometheus series ${promql}` },
        );
      } catch (err) {
        throw new Error(
          `${(err as Error).message}; last result: ${JSON.stringify(last)}\n--- prometheus output ---\n${proc.output().slice(-2000)}`,
          { cause: err },
        );
      }
    },
    stop() {
      stopped ??= (async () => {
        await proc.stop();
        await dir.remove();
      })();
      return stopped;
    },
  };
}
