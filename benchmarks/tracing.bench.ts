/**
 * Tracing benchmark: the OpenTelemetry adapter against the raw OpenTelemetry API on the same
 * provider, in the same run — span start+end with 3 attributes (sampled and unsampled, root and
 * child), and W3C inject/extract. Each task runs a batch of calls so the figures are per call.
 * Goals: adapter overhead ≤ 3 %, an unsampled span < 0.5 µs.
 *
 *   npm run bench:tracing [-- --json OUT] [-- --time MS per task and round] [-- --rounds N] [-- --pairs N] [-- --clock cpu|wall]
 *   npm run bench:tracing:otel3 [-- …]   (the OpenTelemetry 3.x line of spec/otel3; Node ≥ 22.15)
 */
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Span as OtelSpan,
  ROOT_CONTEXT,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { Bench } from 'tinybench';
import { createContext } from '../lib/core/context.js';
import { createNoopCache, noopLogger, noopMetrics } from '../lib/core/noop.js';
import { startSpan, withSpan } from '../lib/core/span.js';
import { createOtelTracer } from '../lib/tracing/otel/index.js';
import { samplerFor } from '../lib/tracing/otel/sampling.js';
import { loadSdk, type SdkSpanProcessor } from '../lib/tracing/otel/sdk.js';
import { benchArgs, numberArg, usageError } from './lib/args.js';

const USAGE = `usage:
  npm run bench:tracing [-- --json OUT] [-- --time MS per task and round] [-- --rounds N] [-- --pairs N] [-- --clock cpu|wall]
  npm run bench:tracing:otel3 [-- …]   (OpenTelemetry 3.x; Node ≥ 22.15)`;
const args = benchArgs(USAGE, {
  json: { type: 'string' },
  time: { type: 'string', default: '300' },
  rounds: { type: 'string', default: '7' },
  pairs: { type: 'string', default: '101' },
  clock: { type: 'string', default: 'cpu' },
});
const timeMs = numberArg(USAGE, 'time', args.time, { min: 1 });
const ROUNDS = numberArg(USAGE, 'rounds', args.rounds, { min: 1, integer: true });
// Read with the others: parsed where the back-to-back check starts, a bad --pairs stopped the
// script only after every tinybench round had run (about a minute at the defaults).
const PAIRED_ROUNDS = numberArg(USAGE, 'pairs', args.pairs, { min: 1, integer: true });
// CPU time of this process (µs resolution) by default: on a shared machine wall time mostly
// measures the other processes. `--clock wall` uses tinybench's default timer.
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
if (args.clock !== 'cpu' && args.clock !== 'wall')
  usageError(USAGE, `--clock must be cpu or wall, got ${JSON.stringify(args.clock)}`);
const clock = args.clock === 'wall' ? undefined : cpuNow;
// A full GC before each task, so no task pays for the garbage of the one before it.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const BATCH = 1000;
const ATTRS = { 'http.route': '/users/:id', 'user.id': 42, 'cache.hit': true };

// A processor that only counts: the export path is the same for both sides and not what is measured.
let ended = 0;
const counting: SdkSpanProcessor = {
  onStart() {},
  onEnd() {
    ended++;
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};
// The installed line's SDK (2.x sdk-trace-base or 3.x sdk-trace): raw and adapter share it.
const sdk = loadSdk();
const providerFor = (ratio: number) =>
  sdk.provider({
    // The sampler createOtelTracer builds for this sample_rate.
    sampler: samplerFor(sdk, ratio).sampler,
    spanProcessors: [counting],
  });

const sampledProvider = providerFor(1);
const unsampledProvider = providerFor(0);
const sampled = createOtelTracer({ provider: sampledProvider });
const unsampled = createOtelTracer({ provider: unsampledProvider });
const rawSampled = sampledProvider.getTracer('raw');
const rawUnsampled = unsampledProvider.getTracer('raw');

// Parents for the child-span tasks, one per side.
const rawParent: OtelSpan = rawSampled.startSpan('parent', {}, ROOT_CONTEXT);
const ourParent = sampled.startSpan('parent');

// Propagation: the adapter's default propagators (traceparent + baggage) against the same composite.
const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});
const incoming = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  'user-agent': 'bench',
  accept: '*/*',
  host: 'localhost',
};

const ctx = createContext({
  tracer: sampled,
  cache: createNoopCache(),
  metrics: noopMetrics,
  logger: noopLogger,
});

let sink = 0;
// Tasks are registered as pairs and run in several short rounds, alternating which side goes
// first, so drift in machine load hits both sides alike; the overhead is the median of the
// per-round ratios.
const tasks: { name: string; fn: () => void }[] = [];
const pairs: [string, string, string][] = [];
function pair(label: string, raw: () => void, ours: () => void) {
  tasks.push({ name: `${label} · raw OTel`, fn: raw }, { name: `${label} · adapter`, fn: ours });
  pairs.push([label, `${label} · raw OTel`, `${label} · adapter`]);
}

const SAMPLED = 'root span, 3 attrs, sampled';
// Raw OpenTelemetry against itself (two copies of the same loop): the noise floor of this run,
// printed next to the judged figures and never judged itself.
const CONTROL = 'control: raw vs raw (noise floor)';
pair(
  CONTROL,
  () => {
    for (let i = 0; i < BATCH; i++)
      rawSampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT).end();
  },
  () => {
    for (let i = 0; i < BATCH; i++)
      rawSampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT).end();
  },
);
pair(
  SAMPLED,
  () => {
    for (let i = 0; i < BATCH; i++)
      rawSampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT).end();
  },
  () => {
    for (let i = 0; i < BATCH; i++) sampled.startSpan('op', { attributes: ATTRS }).end();
  },
);
pair(
  'root span, 3 attrs, unsampled',
  () => {
    for (let i = 0; i < BATCH; i++)
      rawUnsampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT).end();
  },
  () => {
    for (let i = 0; i < BATCH; i++) unsampled.startSpan('op', { attributes: ATTRS }).end();
  },
);
// The adapter draws an unsampled span's ids only when asked for them; this row asks, so it shows
// the cost when the context is used (injected, logged) rather than only started and ended.
pair(
  'unsampled + spanContext()',
  () => {
    for (let i = 0; i < BATCH; i++) {
      const s = rawUnsampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT);
      sink += s.spanContext().spanId.length;
      s.end();
    }
  },
  () => {
    for (let i = 0; i < BATCH; i++) {
      const s = unsampled.startSpan('op', { attributes: ATTRS });
      sink += s.spanContext().spanId.length;
      s.end();
    }
  },
);
pair(
  'child span, 3 attrs, sampled',
  () => {
    for (let i = 0; i < BATCH; i++)
      rawSampled
        .startSpan(
          'op',
          { kind: SpanKind.INTERNAL, attributes: ATTRS },
          trace.setSpan(ROOT_CONTEXT, rawParent),
        )
        .end();
  },
  () => {
    for (let i = 0; i < BATCH; i++) sampled.startSpan('op', { attributes: ATTRS, parent: ourParent }).end();
  },
);
pair(
  'inject (traceparent + baggage)',
  () => {
    const c = trace.setSpan(ROOT_CONTEXT, rawParent);
    for (let i = 0; i < BATCH; i++) {
      const carrier: Record<string, string> = {};
      propagator.inject(c, carrier, defaultTextMapSetter);
      sink += carrier.traceparent!.length;
    }
  },
  () => {
    for (let i = 0; i < BATCH; i++) {
      const carrier: Record<string, string> = {};
      sampled.inject(carrier, { span: ourParent });
      sink += carrier.traceparent!.length;
    }
  },
);
pair(
  'extract (traceparent + baggage)',
  () => {
    for (let i = 0; i < BATCH; i++) {
      const c = propagator.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter);
      sink += trace.getSpan(c) ? 1 : 0;
    }
  },
  () => {
    for (let i = 0; i < BATCH; i++) sink += sampled.extract(incoming).parent ? 1 : 0;
  },
);
// The path handlers take: the core helpers over ctx (merge ctx.attributes, start a child of
// ctx.span, build the child ctx with its bound logger). The raw peer does what a hand-written
// OpenTelemetry handler does for the same result: start the span with the same attributes and
// make the child context with `trace.setSpan`, so code below it can parent on it.
const CORE = 'core startSpan(ctx) + end, sampled';
const WITH = 'core withSpan(ctx, fn), sampled';
let childCtxs = 0;
pair(
  CORE,
  () => {
    for (let i = 0; i < BATCH; i++) {
      const s = rawSampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT);
      if (trace.setSpan(ROOT_CONTEXT, s) !== ROOT_CONTEXT) childCtxs++;
      s.end();
    }
  },
  () => {
    for (let i = 0; i < BATCH; i++) {
      const { ctx: child, span } = startSpan(ctx, 'op', { attributes: ATTRS });
      if (child !== ctx) childCtxs++;
      span.end();
    }
  },
);
const work = (c: unknown, s: unknown) => (c !== s ? 1 : 0);
pair(
  WITH,
  () => {
    for (let i = 0; i < BATCH; i++) {
      const s = rawSampled.startSpan('op', { kind: SpanKind.INTERNAL, attributes: ATTRS }, ROOT_CONTEXT);
      try {
        childCtxs += work(trace.setSpan(ROOT_CONTEXT, s), s);
      } finally {
        s.end();
      }
    }
  },
  () => {
    for (let i = 0; i < BATCH; i++) childCtxs += withSpan(ctx, 'op', work, { attributes: ATTRS });
  },
);

const medianOf = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const p50s = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({ time: timeMs, warmupTime: 100, ...(clock ? { now: clock } : {}) });
  // Swap each pair's order every other round.
  const order =
    round % 2 === 0 ? tasks : tasks.map((_, i) => tasks[i % 2 === 0 ? i + 1 : i - 1] ?? tasks[i]!);
  for (const t of order) bench.add(t.name, t.fn, { beforeAll: gc });
  await bench.run();
  for (const t of tasks) {
    const r = bench.getTask(t.name)?.result as { latency?: { p50: number } } | undefined;
    if (!r?.latency) throw new Error(`no result for ${t.name}`);
    p50s.get(t.name)!.push(r.latency.p50);
  }
}
const perCallNs = (name: string) => (medianOf(p50s.get(name)!) * 1e6) / BATCH;
const rows = pairs.map(([label, raw, ours]) => {
  const ratios = p50s.get(ours)!.map((o, i) => o / p50s.get(raw)![i]!);
  return {
    task: label,
    rawNsPerCall: perCallNs(raw),
    adapterNsPerCall: perCallNs(ours),
    overheadPct: (medianOf(ratios) - 1) * 100,
  };
});
console.log(
  `\ntracing adapter vs raw OpenTelemetry (${ROUNDS} rounds × ${timeMs} ms per task, ${clock ? 'CPU' : 'wall'} time; medians; node ${process.version}; ${sdk.packageName} ${sdk.version})\n`,
);
console.log(
  `${'task'.padEnd(36)} ${'raw OTel'.padStart(12)} ${'adapter'.padStart(12)} ${'overhead'.padStart(10)}`,
);
for (const r of rows) {
  const f = (ns: number) => `${ns.toFixed(1)} ns`;
  console.log(
    `${r.task.padEnd(36)} ${f(r.rawNsPerCall).padStart(12)} ${f(r.adapterNsPerCall).padStart(12)} ${`${r.overheadPct >= 0 ? '+' : ''}${r.overheadPct.toFixed(1)} %`.padStart(10)}`,
  );
}

// Cross-check that is robust on a busy machine: each pair's two batches run back to back,
// alternating order, many times; the overhead is the median of those back-to-back ratios.
// 101 pairs by default (41 before) for a tighter median; what noise is left shows in the
// control row (raw against itself: −1.8 … +3.3 % over eight runs at load 7–11 on a 2-core box).
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const paired = pairs.map(([label, raw, ours]) => {
  const rawFn = tasks.find((t) => t.name === raw)!.fn;
  const ourFn = tasks.find((t) => t.name === ours)!.fn;
  const ratios: number[] = [];
  const ourNs: number[] = [];
  for (let r = 0; r < PAIRED_ROUNDS; r++) {
    const time = (fn: () => void) => {
      const t0 = cpuMicros();
      for (let k = 0; k < 5; k++) fn();
      return cpuMicros() - t0;
    };
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = time(rawFn);
      b = time(ourFn);
    } else {
      b = time(ourFn);
      a = time(rawFn);
    }
    if (a > 0) ratios.push(b / a);
    ourNs.push((b * 1000) / (5 * BATCH));
  }
  return { task: label, overheadPct: (medianOf(ratios) - 1) * 100, adapterNsPerCall: medianOf(ourNs) };
});
console.log(`
back-to-back check (${PAIRED_ROUNDS} alternating pairs of 5 × ${BATCH} calls, CPU time)\n`);
for (const p of paired) {
  console.log(
    `${p.task.padEnd(36)} ${`${p.adapterNsPerCall.toFixed(1)} ns`.padStart(25)} ${`${p.overheadPct >= 0 ? '+' : ''}${p.overheadPct.toFixed(1)} %`.padStart(10)}`,
  );
}

// Each goal of issue 14 with its figure and met/missed. Overheads are medians of per-round
// ratios (rounds) and of back-to-back ratios; the back-to-back figure is the one judged.
const roundOf = (task: string) => rows.find((r) => r.task === task)!.overheadPct;
const pairedOf = (task: string) => paired.find((r) => r.task === task)!.overheadPct;
const unsampledNs = rows.find((r) => r.task === 'root span, 3 attrs, unsampled')!.adapterNsPerCall;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
const others = paired.filter((p) => ![SAMPLED, CORE, WITH, CONTROL].includes(p.task));
const goals = [
  ...[SAMPLED, CORE, WITH].map((task) => ({
    goal: `${task} vs raw: ≤ +3 %`,
    figure: `rounds ${pct(roundOf(task))}, back-to-back ${pct(pairedOf(task))}`,
    met: pairedOf(task) <= 3,
  })),
  {
    goal: 'every other pair vs raw: ≤ +3 %',
    figure: `worst back-to-back ${pct(Math.max(...others.map((p) => p.overheadPct)))}`,
    met: others.every((p) => p.overheadPct <= 3),
  },
  {
    goal: 'unsampled span < 0.5 µs',
    figure: `${(unsampledNs / 1000).toFixed(3)} µs`,
    met: unsampledNs < 500,
  },
];
console.log('\ngoals (issue 14)\n');
for (const g of goals) console.log(`${g.goal.padEnd(52)} ${g.figure.padEnd(40)} ${g.met ? 'met' : 'MISSED'}`);
console.log(
  `${'(noise floor of this run: raw vs raw)'.padEnd(52)} ${`rounds ${pct(roundOf(CONTROL))}, back-to-back ${pct(pairedOf(CONTROL))}`}`,
);
if (args.json)
  writeFileSync(
    args.json,
    `${JSON.stringify({ node: process.version, otel: `${sdk.packageName} ${sdk.version}`, timeMs, rounds: ROUNDS, clock: clock ? 'cpu' : 'wall', rows, paired, goals, unsampledNs }, null, 2)}\n`,
  );
if (sink < 0 || ended < 0 || childCtxs < 0) console.log(sink, ended, childCtxs);
rawParent.end();
ourParent.end();
await Promise.all([
  sampled.close(),
  unsampled.close(),
  sampledProvider.shutdown(),
  unsampledProvider.shutdown(),
]);
