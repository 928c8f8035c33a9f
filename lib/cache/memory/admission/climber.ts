/**
 * Hill climbing for the admission window (the share of `maxCost` given to recent newcomers
 * before they face admission). After every sample of requests it compares the hit ratio with the
 * previous sample: if it improved, it keeps moving the window the same way, otherwise it turns
 * around. Steps shrink geometrically, and restart large when the hit ratio jumps (the workload
 * changed). Recency-heavy workloads grow the window (LRU-like); frequency-heavy ones shrink it.
 */

export interface Climber {
  /** Current window share of the capacity, in [min, max]. */
  readonly fraction: number;
  /** Feeds one sample; returns the new window share. */
  sample(hits: number, requests: number): number;
}

export interface ClimberOptions {
  /** Starting share. Default 0.01. */
  initial?: number;
  /** Bounds of the share. Defaults 0 and 0.8. */
  min?: number;
  max?: number;
  /** First step, as a share of the capacity. Default 0.0625. */
  step?: number;
  /** Factor applied to the step after each sample. Default 0.98. */
  decay?: number;
  /** A hit-ratio change at least this large restarts with a full step. Default 0.05. */
  restart?: number;
}

export function createClimber(options: ClimberOptions = {}): Climber {
  const min = options.min ?? 0;
  const max = options.max ?? 0.8;
  const fullStep = Math.abs(options.step ?? 0.0625);
  const decay = options.decay ?? 0.98;
  const restart = options.restart ?? 0.05;
  let fraction = options.initial ?? 0.01;
  let step = fullStep;
  let previous = -1;
  return {
    get fraction() {
      return fraction;
    },
    sample(hits, requests) {
      if (requests <= 0) return fraction;
      const rate = hits / requests;
      if (previous < 0) {
        // The first sample is the baseline: there is no direction to judge yet.
        previous = rate;
        return fraction;
      }
      const change = rate - previous;
      const amount = change >= 0 ? step : -step;
      step = Math.abs(change) >= restart ? Math.sign(amount) * fullStep : amount * decay;
      previous = rate;
      fraction = Math.min(max, Math.max(min, fraction + amount));
      return fraction;
    },
  };
}
