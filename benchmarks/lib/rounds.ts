/**
 * Timed rounds for client benchmarks against a server (Redis, the tiered cache): throughput from
 * wall time, p50/p99 from tinybench, and client CPU per operation — the figure least moved by
 * other load on a shared machine. Shared by redis.bench.ts and tiered.bench.ts.
 */
import { Bench } from 'tinybench';

export interface Round {
  opsPerSec: number;
  p50: number;
  p99: number;
  /** Client CPU time (user + system) per operation in µs. */
  cpuUs: number;
}

/** One round of `fn` for `timeMs` at `concurrency` (1 = sequential). */
export async function measureRound(
  fn: () => Promise<unknown>,
  concurrency: number,
  timeMs: number,
): Promise<Round> {
  const bench = new Bench(
    concurrency > 1
      ? { time: timeMs, iterations: 0, concurrency: 'task', threshold: concurrency, warmup: false }
      : { time: timeMs, warmup: false },
  );
  bench.add('op', fn);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await bench.run();
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - start) / 1000;
  const task = bench.tasks[0]!;
  const result = task.result as { latency?: { p50: number; p99: number } };
  if (!result.latency) throw new Error(`benchmark task failed: ${JSON.stringify(task.result)}`);
  return {
    opsPerSec: task.runs / wall,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs: (cpu.user + cpu.system) / task.runs,
  };
}

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
