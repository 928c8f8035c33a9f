/**
 * Hill climbing for the admission window (the share of `maxCost` given to recent newcomers
 * before they face admission). After every sample of requests it compares the hit ratio with the
 * previous sample: if it improved, it keeps moving the window the same way, otherwise it turns
 * around. Steps shrink geometrically, and restart large when the hit ratio jumps (the workload
 * changed). Recency-heavy workloads grow the window (LRU-like); frequency-heavy ones shrink it.
 *
 * A jump says that the workload changed, not which way to go. The caller passes a `lean`: the
 * region that would have kept more of the keys it lost (ghost hits, see store.ts), +1 for the
 * window, -1 for the main region, 0 when neither clearly wins. It sets the direction of the
 * first move and of every restart; in between, plain hill climbing decides. (Reversing on the
 * first drop sent the window to 0 at the start of recency-heavy traces while a main region full
 * of the first keys refused every newcomer: 4–6 points below LRU on the recency-500 trace.
 * Following the lean on every sample measured up to −0.6 points on arc-oltp and scarab-recs.)
 *
 * One exception to plain hill climbing: when the lean has pointed to the window for `persist`
 * consecutive samples, each backed by many ghost hits (`sure`), the window keeps growing even if
 * the hit ratio dipped. On a recency-heavy trace the window's ghosts come back 10–100× as often
 * as main's, sample after sample, while the hit ratio swings with the aging cycle and turned the
 * climber around every other sample (recency-5000 at 5,000 entries: the window never passed 32 %
 * of the cache, 45.4 % hits against LRU's 82.6 %; with this rule 65.5 %).
 *
 * How fast it may go: once that persistent lean has also been strong (the window's ghosts come
 * back ≥ 10× as often as main's) in 2 consecutive samples, each move doubles the previous one, up
 * to `maxPush` of the capacity; any other sample moves by the plain step again. With one sample
 * per 10 × the entries, a 5,000-entry cache sees 20 samples in a million requests: plain steps
 * (6 % and shrinking) took 17 of them to reach a whole-cache window (recency-5000 at 5,000
 * entries 65.50 %, LRU 82.64); with doubling 72.76 %. Doubling from the first strong sample
 * reached 74.36 % but lost 0.04 points on scarab-recs at 32 entries and arc-oltp at 250, where
 * single strong samples are noise; doubling on every sure lean, or keeping the grown step after
 * the lean ended, lost up to 0.6 points on recency-500 and scarab-recs at 32–250 entries.
 */

export interface Climber {
  /** Current window share of the capacity, in [min, max]. */
  readonly fraction: number;
  /**
   * Feeds one sample; returns the new window share. `lean` (+1, -1 or 0) is the direction the
   * sample's ghost hits point to; it decides the first move and restarts. `sure`: the lean rests
   * on enough ghost hits to count towards a persistent lean; `strong`: it is strong enough to
   * speed a persistent lean up (see above). `lruGain`: how much higher a plain LRU's hit ratio
   * of the same size would have been over the sample (the LRU shadow, store.ts), with its
   * standard error `lruError`.
   */
  sample(
    hits: number,
    requests: number,
    lean?: number,
    sure?: boolean,
    strong?: boolean,
    lruGain?: number,
    lruError?: number,
  ): number;
  /**
   * The LRU shadow so far in a sample that is not over (`lruGain`, `lruError` as in `sample`,
   * over the requests so far). Returns true when it is overwhelming (above the margin and `lruCut`
   * standard errors): the window is then the whole capacity and the caller starts a new sample.
   */
  interrupt(lruGain: number, lruError: number): boolean;
}

export interface ClimberOptions {
  /** Starting share. Default 0.01. */
  initial?: number | undefined;
  /**
   * Bounds of the share. Defaults 0 and 1: a window of the whole capacity is plain LRU, which a
   * purely recency-driven workload needs.
   */
  min?: number | undefined;
  max?: number | undefined;
  /** First step, as a share of the capacity. Default 0.0625. */
  step?: number | undefined;
  /** Factor applied to the step after each sample. Default 0.98. */
  decay?: number | undefined;
  /** A hit-ratio change at least this large restarts with a full step. Default 0.05. */
  restart?: number | undefined;
  /**
   * Consecutive sure leans towards the window after which a dip no longer turns the climber
   * around. Default 2 (1 measured −0.11 points on arc-oltp at 100 entries; 3 gained less on the
   * recency traces: recency-5000 at 5,000 entries 59.85 % instead of 65.50 %).
   */
  persist?: number | undefined;
  /** Largest move of a sped-up persistent lean, as a share of the capacity. Default 0.5. */
  maxPush?: number | undefined;
  /** LRU shadow: weight of a sample in the running mean of `lruGain`. Default 0.25. */
  lruWeight?: number | undefined;
  /**
   * LRU shadow: the window becomes the whole capacity once the running mean of `lruGain` is
   * above this margin (default 0.005, half a point of hit ratio) and above `lruZ` (default 3)
   * times its standard error.
   */
  lruMargin?: number | undefined;
  lruZ?: number | undefined;
  /** Standard errors the shadow must clear to cut a sample short (`interrupt`). Default 8. */
  lruCut?: number | undefined;
}

export function createClimber(options: ClimberOptions = {}): Climber {
  const min = options.min ?? 0;
  const max = options.max ?? 1;
  const fullStep = Math.abs(options.step ?? 0.0625);
  const decay = options.decay ?? 0.98;
  const restart = options.restart ?? 0.05;
  const persist = options.persist ?? 2;
  const maxPush = options.maxPush ?? 0.5;
  let fraction = options.initial ?? 0.01;
  let step = fullStep;
  let direction = 1;
  let previous = -1;
  /** Consecutive sure leans towards the window. */
  let streak = 0;
  /** Consecutive strong samples of a persistent lean. */
  let strongRun = 0;
  /** Multiple of the step of the current sped-up push (1: none). */
  let push = 1;
  const lruWeight = options.lruWeight ?? 0.25;
  const lruMargin = options.lruMargin ?? 0.005;
  const lruZ = options.lruZ ?? 3;
  const lruCut = options.lruCut ?? 8;
  /** Running mean of the LRU shadow's gain, and its variance (counting noise). */
  let lruMean = 0;
  let lruVar = 0;
  const move = (amount: number) => {
    fraction = Math.min(max, Math.max(min, fraction + amount));
    return fraction;
  };
  /** Becomes a plain LRU: a whole-cache window, the shadow's running mean and the streaks reset. */
  const toLru = () => {
    lruMean = 0;
    lruVar = 0;
    direction = 1;
    streak = 0;
    strongRun = 0;
    push = 1;
    return move(max - fraction);
  };
  return {
    get fraction() {
      return fraction;
    },
    interrupt(lruGain, lruError) {
      if (fraction >= max || lruGain <= lruMargin || lruGain <= lruCut * lruError) return false;
      toLru();
      // The interrupted sample mixed two windows: the next one is a new baseline.
      previous = -1;
      return true;
    },
    sample(hits, requests, lean = 0, sure = false, strong = false, lruGain = 0, lruError = 0) {
      if (requests <= 0) return fraction;
      const rate = hits / requests;
      lruMean += lruWeight * (lruGain - lruMean);
      lruVar = (1 - lruWeight) ** 2 * lruVar + lruWeight ** 2 * lruError * lruError;
      if (fraction < max && lruMean > lruMargin && lruMean > lruZ * Math.sqrt(lruVar)) {
        // A plain LRU of the same size would clearly have hit more: become one. The climber goes
        // on from there (a dip turns it around as usual; the shadow sends it back if LRU still wins).
        previous = rate;
        return toLru();
      }
      if (previous < 0) {
        // The first sample is the baseline: no hit-ratio direction to judge yet, only the lean.
        previous = rate;
        // Its lean counts towards a persistent one like any later sample's (left out, the dip
        // of the second sample turned the climber around: −2.08 → −1.33 points against LRU on
        // recency-500 at 1,000 entries once counted, every other cell unchanged).
        streak = sure && lean === 1 ? 1 : 0;
        if (lean === 0) return fraction;
        direction = lean;
        return move(direction * step);
      }
      const change = rate - previous;
      previous = rate;
      streak = sure && lean === 1 ? streak + 1 : 0;
      const jump = Math.abs(change) >= restart;
      if ((jump && lean !== 0) || streak >= persist) direction = lean;
      else if (change < 0) direction = -direction;
      strongRun = streak >= persist && strong ? strongRun + 1 : 0;
      push = strongRun >= 2 ? Math.min(push * 2, maxPush / step) : 1;
      const amount = direction * step * push;
      step = jump ? fullStep : step * decay;
      return move(amount);
    },
  };
}
