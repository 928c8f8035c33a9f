/**
 * `npm run demo`: starts gateway, user and order services in this process, sends a short bounded
 * burst of traffic, prints a summary (requests, latency, cache hit ratios per layer, one full trace
 * as a tree, where the metrics are) and exits, closing everything. `npm run demo -- --keep` leaves
 * the services running after the summary (for a look at /metrics), until Ctrl+C.
 *
 * A collector that is configured but not reachable is a warning, never a failure of the demo.
 *
 * Nothing needs to be installed: without DATABASE_URL the database is embedded (pglite), without
 * REDIS_URL the L2 is a second in-memory cache, without an OTLP endpoint the spans stay in memory.
 * With those variables set, the same command uses the real servers (see demo/README.md).
 */
import { closeSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { isatty } from 'node:tty';
import { ConfigError } from '../lib/core/errors.js';
import { normalizeEndpoint } from '../lib/tracing/otel/names.js';
import { DatabaseUnavailableError, redactUrl } from './db.js';
import { type DemoEnv, EnvError, hostError, readEnv, serviceUrl } from './env.js';
import { type RunningServices, startServices } from './services/index.js';
import {
  buildTree,
  fromJaeger,
  fromReadableSpans,
  groupByTrace,
  type JaegerTraceJson,
  renderTree,
  type TreeSpan,
} from './trace-tree.js';
import { driveTraffic, quantile, type TrafficResult } from './traffic.js';

const args = process.argv.slice(2);
const USAGE =
  'usage: npm run demo [-- --keep]   (--keep: leave the services running after the summary, until Ctrl+C)\n';
const isHelp = (a: string) => a === '--help' || a === '-h';
// A mistyped option (`--kep`) must not be ignored: the demo would run and exit, not keep running.
const unknown = args.filter((a) => a !== '--keep' && !isHelp(a));
if (unknown.length > 0) {
  process.stderr.write(
    `demo: unknown argument ${unknown.map((a) => JSON.stringify(a)).join(', ')}\n${USAGE}`,
  );
  process.exit(2);
}
// Asked for, the usage is an answer, not an error: `--help` was refused as an unknown argument
// (on stderr, exit 2), so `npm run demo -- --help && …` failed. So was it beside another known
// argument (`npm run demo -- --keep --help`, `-h -h`): "unknown argument \"--help\"", exit 2.
if (args.some(isHelp)) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const keep = args.includes('--keep');
// A malformed variable (LOG_LEVEL=x, REDIS_URL=rediss://…) is one line naming it, before anything starts.
let env: DemoEnv;
// Where the printed trace links point; checked like demo/load.ts does (`localhost:16686` without a
// scheme made a link no browser opens, and the trace was never fetched from Jaeger).
let jaegerUi: string;
try {
  env = readEnv();
  jaegerUi = serviceUrl('JAEGER_UI_URL', 'http://localhost:16686');
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof EnvError ? err.message : String(err)}\n`);
  process.exit(1);
}
/** The process that started this one (npm's shell); see the orphan watch in main(). */
const parent = process.ppid;
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
// `npm run demo | head -3`, or quitting `less`: the reader is gone and every later write fails with
// EPIPE, which was an uncaught exception (a stack trace, exit 1). The demo stops as on SIGTERM.
// A terminal that hung up (closed window, lost ssh session) fails writes with EIO: gone as well.
const GONE = new Set(['EPIPE', 'EIO']);
let outputGone = false;
let onOutputGone: (() => void) | undefined;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (!GONE.has(err.code ?? '')) throw err;
  if (outputGone) return;
  outputGone = true;
  onOutputGone?.();
});
// The services' log lines go to stderr: one that went away too must not end the close half way.
process.stderr.on('error', (err: NodeJS.ErrnoException) => {
  if (!GONE.has(err.code ?? '')) throw err;
});
// Node 20 restores the terminal settings of its stdio at exit and aborts (SIGABRT, "Assertion
// failed") when the terminal hung up, which fails that with EIO: after a clean close, the demo
// died by a signal. A standard stream on a terminal that hung up is pointed at /dev/null first
// (Node skips a stream that is no longer the file it started with).
const startedOnTty = [0, 1, 2].filter((fd) => isatty(fd));
process.on('exit', () => {
  for (const fd of startedOnTty) {
    if (isatty(fd)) continue;
    try {
      closeSync(fd);
      openSync('/dev/null', 'r+'); // takes the lowest free descriptor: `fd`
    } catch {}
  }
});
const out = (line = '') => {
  if (!outputGone) process.stdout.write(`${line}\n`);
};

/**
 * The signals that stop the demo. SIGHUP is a terminal hangup (the window closed, an ssh session
 * lost): it killed the demo at once, without the close — spans still queued for the collector were
 * never exported and the database sessions were cut.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

async function main(): Promise<void> {
  // A signal while the services start (a few seconds with the embedded database) used to find no
  // handler yet and kill the process at once (exit by signal, not the documented 130). It is
  // remembered and acted on as soon as the services are up: they are closed, exit 130.
  // One listener per signal for the whole run, never removed and re-added in between: a signal
  // that arrived while the start blocked the event loop, not yet dispatched, was lost when the
  // listener was swapped (libuv drops it with the old handle) and the demo ran on as if never
  // signalled.
  let startSignal: NodeJS.Signals | undefined;
  let handleSignal = (signal: NodeJS.Signals) => {
    if (startSignal) return;
    startSignal = signal;
    out('\ninterrupted: closing the services…');
  };
  const onAnySignal = (signal: NodeJS.Signals) => handleSignal(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, onAnySignal);
  out('Hyperion observability demo: starting gateway, user-service and order-service…');
  if (!env.databaseUrl)
    out('  (embedded PostgreSQL: the very first start initialises it, which takes a few seconds)');
  if (env.tracingEndpoint && !(await reachable(env.tracingEndpoint)))
    out(
      `  warning: nothing answers at ${shownEndpoint()} (OTLP collector); the demo runs anyway and counts the spans it cannot export`,
    );
  if (env.redisUrl && !(await reachable(env.redisUrl)))
    out(
      `  warning: nothing answers at ${redactUrl(env.redisUrl)} (REDIS_URL); the demo runs anyway: L2 calls time out after 200 ms and the breaker opens; the user and order services fill no L1 until Redis answers (their invalidation bus must subscribe first), so their reads go to PostgreSQL (L1 and L2 hit ratios 0 %)`,
    );
  const t0 = performance.now();
  let services: RunningServices;
  try {
    services = await startServices({
      databaseUrl: env.databaseUrl,
      redisUrl: env.redisUrl,
      host: env.host,
      tracing: env.tracingEndpoint
        ? { exporter: 'otlp', endpoint: env.tracingEndpoint, sampleRate: env.sampleRate }
        : { exporter: 'memory', sampleRate: env.sampleRate },
      logger: env.logLevel ?? 'warn',
    });
  } catch (err) {
    for (const signal of STOP_SIGNALS) process.off(signal, onAnySignal);
    // A HOST that cannot be listened on is the user's to fix: one line naming HOST, as the
    // standalone services say it (it was Node's getaddrinfo/listen error with a stack trace).
    throw hostError(err, env.host);
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= services.close();
    return closing;
  };
  // One handler for the whole run, never `once`: a Ctrl+C under `npm run demo` reaches this process
  // twice (the terminal signals the whole process group and npm forwards its copy), and a second
  // signal with no handler left would kill it half way through closing the services.
  let onStop: ((signal: NodeJS.Signals) => void) | undefined;
  // Stops the burst when the run is interrupted: the rest of it would only meet closing services
  // (hundreds of 503s), and its summary would be printed over the close.
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return; // already closing: the close is bounded, let it finish
    if (onStop) return onStop(signal);
    if (!startSignal) out('\ninterrupted: closing the services…');
    interrupted.abort();
    // A reader that went away is not an interrupt by the user: 0 then, in every phase (the EPIPE
    // shows only at the next write, so the phase it lands in is a matter of timing).
    close().finally(() => process.exit(outputGone ? 0 : 130));
  };
  handleSignal = onSignal;
  // `npm run demo` runs this process under `sh -c`, which does not pass signals on: a SIGTERM sent
  // to npm's pid (a supervisor, `timeout`, `kill <npm pid>`) ended npm and the shell and left this
  // process running, orphaned, holding ports 8080–8082. A parent that goes away is taken as SIGTERM.
  const orphanWatch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanWatch);
    out('\nthe parent process exited (npm stopped?): closing the services…');
    onSignal('SIGTERM');
  }, 500);
  orphanWatch.unref();
  /** With --keep, the timer that drops the spans recorded in memory after the summary. */
  let forgetting: NodeJS.Timeout | undefined;
  onOutputGone = () => onSignal('SIGTERM');
  if (outputGone) onOutputGone();
  else if (startSignal) onSignal(startSignal);
  try {
    const startedMs = performance.now() - t0;
    const traffic = await driveTraffic({
      baseUrl: services.gateway.url,
      requests: 600,
      concurrency: 8,
      signal: interrupted.signal,
    });
    if (closing) return; // interrupted: the close exits 130, no summary of a cut-short burst
    await printSummary(services, traffic, startedMs);
    if (keep && !closing) {
      // Without a collector the spans go to the services' memory exporters, which only the
      // summary reads. Kept running, the services went on adding to them: every request to the
      // kept gateway stayed in memory (≈11 KB each; 40,000 requests took the heap from 49 MB to
      // 628 MB), until the process died out of memory. Dropped from now on (with a collector,
      // this does nothing: the spans are exported).
      const forgetSpans = () => {
        for (const s of services.all) s.tracer?.resetFinishedSpans();
      };
      forgetSpans();
      forgetting = setInterval(forgetSpans, 1000);
      forgetting.unref();
      out(`\nKept running (--keep): gateway ${services.gateway.url}; press Ctrl+C to stop.`);
      // Stopping is the normal end here: close everything (draining requests) and exit 0.
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        onStop = (received) => {
          void close(); // a repeated signal from now on is ignored (awaited below)
          resolve(received);
        };
      });
      out(`\n${signal}: closing the services…`);
    }
  } finally {
    clearInterval(orphanWatch);
    clearInterval(forgetting);
    await close();
    for (const signal of STOP_SIGNALS) process.off(signal, onAnySignal);
  }
  out(
    '\nAll services closed. Run the full stack with Jaeger and Grafana: docker-compose up --build (see demo/README.md).',
  );
}

function cacheLine(s: RunningServices['all'][number]): string {
  const l1 = s.layers.l1.stats?.();
  const l2 = s.layers.l2?.stats?.();
  const parts = [`L1 ${l1 ? pct(l1.hitRatio) : 'n/a'}`];
  if (s.layers.l2) parts.push(`L2 ${l2 ? pct(l2.hitRatio) : 'n/a'}`);
  if (s.data) parts.push(`db queries ${s.data.statements}`);
  return `${s.name.padEnd(14)} ${parts.join('   ')}`;
}

async function printSummary(
  services: RunningServices,
  traffic: TrafficResult,
  startedMs: number,
): Promise<void> {
  const { samples, elapsedMs } = traffic;
  const byStatus = new Map<number, number>();
  for (const s of samples) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
  const ms = samples.filter((s) => s.status !== 0).map((s) => s.ms);
  // OTEL_SDK_DISABLED=true (read by the tracer, as the OpenTelemetry specification says) leaves the
  // tracers without a provider: nothing is recorded. The summary said "spans kept in memory" (or
  // "OTLP → …") and then guessed a sample rate of 0 or always_off for the missing trace.
  const tracingOff = services.all.some((s) => s.tracer !== undefined && s.tracer.provider === undefined);
  const setup = [
    env.databaseUrl ? `PostgreSQL ${redactUrl(env.databaseUrl)}` : 'embedded PostgreSQL (pglite)',
    env.redisUrl ? `Redis L2 ${redactUrl(env.redisUrl)}` : 'in-memory L2',
    tracingOff
      ? 'tracing off (OTEL_SDK_DISABLED is true: no spans recorded)'
      : env.tracingEndpoint
        ? `OTLP → ${shownEndpoint()}`
        : 'spans kept in memory',
  ].join(', ');
  const fellBack = services.all.filter((s) => s.fellBack);

  out();
  out('─'.repeat(100));
  out(`Setup      ${setup}; started in ${(startedMs / 1000).toFixed(1)} s`);
  if (fellBack.length)
    out(
      `Ports      busy, used free ports instead: ${fellBack.map((s) => `${s.name} → ${s.port}`).join(', ')}`,
    );
  out(
    `Traffic    ${samples.length} requests in ${(elapsedMs / 1000).toFixed(1)} s (${Math.round((samples.length / elapsedMs) * 1000)} req/s, 8 in flight) · ` +
      [...byStatus]
        .sort((a, b) => a[0] - b[0])
        .map(([st, n]) => `${st === 0 ? 'network error' : st}: ${n}`)
        .join('  '),
  );
  const bad = samples.filter((s) => s.kind === 'bad-order');
  if (bad.length > 0) {
    const statuses = [...new Set(bad.map((s) => s.status))].sort().join('/');
    out(
      `Bad input  ${bad.length} of those are deliberately invalid: POST /orders with userId "x" and no items, ` +
        `answered ${statuses} by the gateway's validation (nothing reaches the order service)`,
    );
  }
  out(
    `Latency    p50 ${quantile(ms, 0.5).toFixed(1)} ms   p99 ${quantile(ms, 0.99).toFixed(1)} ms   (at the gateway, end to end)`,
  );
  out(`Caches     hit ratio per layer (hits / reads reaching that layer)`);
  for (const s of services.all) out(`           ${cacheLine(s)}`);

  const sample = tracingOff ? undefined : pickTrace(services, samples);
  const tree = await traceTree(services, sample?.traceId);
  if (tracingOff) {
    out('Trace      none recorded: OTEL_SDK_DISABLED is true (unset it to trace the requests)');
  } else if (tree?.unreachable !== undefined) {
    out(
      `Trace      warning: the collector at ${shownEndpoint()} did not take the spans (${tree.unreachable}); ` +
        'the demo goes on without it (lost spans are counted in spans_dropped_total)',
    );
  } else if (tree) {
    out(
      `Trace      ${tree.traceId}  (${tree.spans} spans, ${tree.services} services)${tree.link ? `  ${tree.link}` : ''}`,
    );
    for (const line of tree.lines) out(`           ${line}`);
  } else if (sample?.traceId) {
    out(
      `Trace      ${sample.traceId} was exported to ${shownEndpoint()}; open ${jaegerUi}/trace/${sample.traceId}`,
    );
  } else {
    out('Trace      none sampled (HYPERION_SAMPLE_RATE 0, or OTEL_TRACES_SAMPLER always_off?)');
  }
  out(`Metrics    ${services.all.map((s) => `${s.url}/metrics`).join('   ')}`);
  out(
    keep
      ? '           (kept running: open them now; Ctrl+C stops the services)'
      : '           (only while the demo runs: `npm run demo -- --keep` leaves the services up for a look;\n' +
          '           `docker-compose up` runs them with Prometheus and Grafana)',
  );
  out('─'.repeat(100));
}

/** True when a TCP connection to the URL's host and port opens within a second. */
function reachable(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(/^(https?|rediss?):\/\//.test(url) ? url : `http://${url}`);
    } catch {
      return resolve(false);
    }
    const defaultPort = { 'https:': 443, 'redis:': 6379, 'rediss:': 6379 }[u.protocol] ?? 80;
    const socket = connect({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port || defaultPort),
    });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The first line of an error's message, and of its first cause when it has several. */
function errorText(err: unknown): string {
  const e = err as { message?: unknown; causes?: unknown[] };
  const cause = e?.causes?.[0] as { message?: unknown } | undefined;
  const text =
    typeof cause?.message === 'string'
      ? cause.message
      : typeof e?.message === 'string'
        ? e.message
        : String(err);
  return text.split('\n')[0]!;
}

/**
 * A `GET /users/:id/orders` trace worth showing: from memory, the one with the most spans (a miss
 * that reached the database shows every layer); otherwise the first one.
 */
function pickTrace(services: RunningServices, samples: TrafficResult['samples']) {
  const candidates = samples.filter((s) => s.kind === 'user-orders' && s.status === 200 && s.traceId);
  if (env.tracingEndpoint) return candidates[0];
  const counts = groupByTrace(
    services.all.flatMap((s) => fromReadableSpans(s.tracer?.finishedSpans() ?? [])),
  );
  let best = candidates[0];
  for (const c of candidates) {
    if ((counts.get(c.traceId!)?.length ?? 0) > (counts.get(best!.traceId!)?.length ?? 0)) best = c;
  }
  return best;
}

/**
 * The collector URL as the tracer uses it, for printing: `HYPERION_TRACING_ENDPOINT` may be
 * `host:port`, which the URL parser refuses for an IP (`127.0.0.1:4318` was printed as
 * "(unparseable URL)") or reads as a scheme (`jaeger:4318`); the password is dropped.
 */
function shownEndpoint(): string {
  if (!env.tracingEndpoint) return '(no collector)';
  const r = normalizeEndpoint(env.tracingEndpoint, 'otlp');
  return redactUrl('url' in r ? r.url : env.tracingEndpoint);
}

/** How long the summary waits for the collector to take the spans before it says it did not, ms. */
const SUMMARY_FLUSH_MS = 5000;

/** The trace of `traceId` from the in-memory exporters, or from Jaeger when spans went there. */
async function traceTree(
  services: RunningServices,
  traceId: string | undefined,
): Promise<
  | { traceId: string; spans: number; services: number; lines: string[]; link?: string; unreachable?: never }
  | { unreachable: string }
  | undefined
> {
  if (!traceId) return undefined;
  let spans: TreeSpan[] = [];
  let link: string | undefined;
  if (!env.tracingEndpoint) {
    const all = services.all.flatMap((s) => fromReadableSpans(s.tracer?.finishedSpans() ?? []));
    spans = groupByTrace(all).get(traceId) ?? [];
  } else {
    // Flush, then ask Jaeger's query API (if it is where the spans went); give up quietly after a few tries.
    // The flush is bounded: a collector that accepts connections and never answers (frozen, a
    // black-holed port) held it for one 30 s export timeout per batch — over two minutes for the
    // burst's spans — with the summary half printed. What it did not take is counted at close.
    let wait: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      Promise.allSettled(services.all.map((s) => s.tracer?.flush())),
      new Promise<'late'>((resolve) => {
        wait = setTimeout(() => resolve('late'), SUMMARY_FLUSH_MS);
      }),
    ]);
    clearTimeout(wait);
    if (flushed === 'late') return { unreachable: `no answer within ${SUMMARY_FLUSH_MS / 1000} s` };
    const failed = flushed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) return { unreachable: errorText(failed.reason) };
    link = `${jaegerUi}/trace/${traceId}`;
    for (let i = 0; i < 10 && spans.length === 0; i++) {
      try {
        const res = await fetch(`${jaegerUi}/api/traces/${traceId}`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) {
          const body = (await res.json()) as { data?: JaegerTraceJson[] };
          if (body.data?.[0]) spans = fromJaeger(body.data[0]);
        }
      } catch {
        break; // Jaeger's UI is not reachable from here: print the link only
      }
      if (spans.length === 0) await new Promise((r) => setTimeout(r, 500));
    }
    if (spans.length === 0) return undefined;
  }
  if (spans.length === 0) return undefined;
  return {
    traceId,
    spans: spans.length,
    services: new Set(spans.map((s) => s.service)).size,
    lines: renderTree(buildTree(spans)),
    link,
  };
}

main().then(
  () => {
    // Everything is closed; if a stray handle still holds the loop, do not hang the terminal.
    setTimeout(() => {
      process.stderr.write('demo: something kept the process alive after close; exiting\n');
      process.exit(0);
    }, 3000).unref();
  },
  (err: unknown) => {
    // A bad DATABASE_URL (or another variable) is the user's to fix: its message says how, a
    // stack trace would bury it.
    // So is an OpenTelemetry variable the tracer refuses (`OTEL_TRACES_SAMPLER=bogus`): its
    // ConfigError names the variable; it used to come with a stack trace.
    const text =
      err instanceof DatabaseUnavailableError ||
      err instanceof EnvError ||
      (err instanceof ConfigError && /environment variable/.test(err.message))
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    process.stderr.write(`demo failed: ${text}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 3000).unref();
  },
);
