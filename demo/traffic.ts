/**
 * A bounded, reproducible burst of demo traffic against the gateway: mostly reads with a skewed
 * (Zipf-like) choice of users, so hot users stay in L1 and the long tail is served by L2, plus
 * some valid and some invalid `POST /orders`. Bounded in request count and in time.
 */

import { createSeededRandom as seededRandom } from '../lib/core/random.js';

export interface TrafficOptions {
  /** Gateway base URL. */
  baseUrl: string;
  /** Requests to send in total. Default 600. */
  requests?: number;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Stop starting new requests after this many ms. Default 20 000. */
  deadlineMs?: number;
  /** Users are drawn from 1..users. Default 100. */
  users?: number;
  /** PRNG seed, so two runs send the same sequence. Default 42. */
  seed?: number;
  /** Stops the burst when aborted: no new request starts and those in flight are cancelled. */
  signal?: AbortSignal;
}

export type RequestKind = 'user' | 'user-orders' | 'order' | 'bad-order';

export interface Sample {
  readonly kind: RequestKind;
  readonly status: number;
  /** End-to-end latency, ms (0 status = network error). */
  readonly ms: number;
  /** The `x-trace-id` response header, when the request was traced. */
  readonly traceId: string | undefined;
  /** Whether the answer was JSON (`Content-Type` …json), as every answer of the gateway's routes is. */
  readonly json: boolean;
}

export interface TrafficResult {
  readonly samples: readonly Sample[];
  /** Wall time of the burst, ms. */
  readonly elapsedMs: number;
}

/** The core's seeded PRNG, under the name the demo uses. */
export { seededRandom };

/** Draws 1..n with probability ∝ 1/k (Zipf, s = 1). */
export function zipf(n: number, random: () => number): () => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k;
    cdf.push(sum);
  }
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** The request of step `i`. */
function plan(
  random: () => number,
  pickUser: () => number,
): { kind: RequestKind; path: string; body?: unknown } {
  const r = random();
  const id = pickUser();
  if (r < 0.55) return { kind: 'user', path: `/users/${id}` };
  if (r < 0.9) return { kind: 'user-orders', path: `/users/${id}/orders` };
  if (r < 0.97) {
    const items = [
      {
        sku: 'mug',
        quantity: 1 + Math.floor(random() * 3),
        unitPriceCents: 500 + Math.floor(random() * 9500),
      },
    ];
    return { kind: 'order', path: '/orders', body: { userId: id, items } };
  }
  return { kind: 'bad-order', path: '/orders', body: { userId: 'x', items: [] } };
}

/** Sends the burst; never throws for HTTP or network errors (they are samples with their status). */
export async function driveTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const total = options.requests ?? 600;
  const concurrency = options.concurrency ?? 8;
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  const random = seededRandom(options.seed ?? 42);
  const pickUser = zipf(options.users ?? 100, random);
  const steps = Array.from({ length: total }, () => plan(random, pickUser));
  const samples: Sample[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < steps.length && Date.now() < deadline && !options.signal?.aborted) {
      const step = steps[next++]!;
      const t = performance.now();
      const timeout = AbortSignal.timeout(10_000);
      try {
        const res = await fetch(`${options.baseUrl}${step.path}`, {
          method: step.body === undefined ? 'GET' : 'POST',
          headers: step.body === undefined ? undefined : { 'content-type': 'application/json' },
          body: step.body === undefined ? undefined : JSON.stringify(step.body),
          signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
        });
        await res.arrayBuffer();
        samples.push({
          kind: step.kind,
          status: res.status,
          ms: performance.now() - t,
          traceId: res.headers.get('x-trace-id') ?? undefined,
          json: /json/i.test(res.headers.get('content-type') ?? ''),
        });
      } catch {
        samples.push({
          kind: step.kind,
          status: 0,
          ms: performance.now() - t,
          traceId: undefined,
          json: false,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples, elapsedMs: performance.now() - start };
}

/** The q-quantile (0..1) of `values` (nearest rank); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
