/**
 * Shared option checks for the adapter factories: unknown keys are rejected (with the nearest
 * known key as a suggestion), and the numeric limits every factory and the config schema agree on.
 *
 * Every optional property of a public type is written `name?: T | undefined`: the factories take
 * an option given as `undefined` like an absent one, and a user compiling with
 * `exactOptionalPropertyTypes` must be able to write `{ password: process.env.REDIS_PASSWORD }` or
 * spread their own optional settings (spec/consumer/packed.test.ts checks the shipped .d.ts).
 */
import { ConfigError, type ConfigIssue, typeName } from './errors.js';

/** Longest delay Node's timers accept (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Longest cache TTL (365 days). TTLs are stored as expiry times, never armed as timers, so they
 * may exceed `MAX_TIMER_MS`; anything longer is better written as "no TTL".
 */
export const MAX_TTL_MS = 365 * 24 * 60 * 60 * 1000;

/** Upper bound of the plain counts (queue sizes, series per metric, breaker failures). */
export const MAX_COUNT = 1_000_000;

/**
 * Edit distance with adjacent transpositions (optimal string alignment), bounded: returns
 * `limit + 1` as soon as the distance must exceed `limit`. O(|a| × |b|), and O(1) when the lengths
 * differ by more than `limit`.
 */
export function editDistance(a: string, b: string, limit = 2): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, prev2[j - 2]! + 1);
      cur.push(d);
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return limit + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

const normalize = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

/**
 * The known name closest to `name`: the same words in another case or separator style
 * (`sampleRate` → `sample_rate`), else the nearest within 2 edits (at most a third of the name).
 * `undefined` when nothing is close.
 */
export function suggestKey(name: string, known: readonly string[]): string | undefined {
  if (name.length > 200) return undefined;
  const n = normalize(name);
  const same = known.find((k) => normalize(k) === n);
  if (same !== undefined) return same;
  const limit = Math.min(2, Math.floor(name.length / 3));
  if (limit === 0) return undefined;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase(), limit);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** "is not a known option; did you mean `maxCost`?" — the message for an unknown key. */
export function unknownKeyMessage(name: string, known: readonly string[], what = 'option'): string {
  const hint = suggestKey(name, known);
  return `is not a known ${what}${hint === undefined ? '' : `; did you mean \`${hint}\`?`}`;
}

/** A string that reads as a number or a duration (`"1000"`, `"0.1"`, `"5s"`, `"2 min"`). */
const NUMBER_LIKE = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?\s*[a-z]{0,3}\s*$/i;

/**
 * How a refused value of a numeric (never secret) option is shown in an issue's `received`: the
 * number itself (`-1`, `NaN`), a string that reads as a number or a duration quoted (`"5s" (a
 * string)`: a duration written as in the config file, `"1000"` read from an environment
 * variable), any other string and anything else by its type only: a password or a URL given
 * where a number is expected (`db: process.env.REDIS_URL`) was echoed in the message, its
 * credentials with it. `received number` alone said nothing about `ttl: -1` against "a number of
 * ms > 0". Not for options that may hold a secret (a password given as a number would be shown).
 */
export function shownOptionValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string' && value.length <= 32 && NUMBER_LIKE.test(value))
    return `${JSON.stringify(value)} (a string)`;
  return typeName(value);
}

/** Duration text as a config file takes it (`"5s"`, `"250ms"`, `"1.5 m"`), read to ms below. */
const DURATION_TEXT = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * How a refused duration option (milliseconds) is shown: as `shownOptionValue`, and duration text
 * (`"5s"`) also says what to give instead. Options given in code take a number of milliseconds;
 * only a config file reads duration text. `createApp({ disposeTimeoutMs: '5s' })`, a drain's
 * `graceMs: '5s'` and `cache.set(k, v, '5s')` said "received string", so the caller could not tell
 * whether text was accepted anywhere or what number to give.
 */
export function shownDuration(value: unknown): string {
  const shown = shownOptionValue(value);
  if (typeof value !== 'string' || value.length > 32) return shown;
  const m = DURATION_TEXT.exec(value);
  if (m === null) return shown;
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  return `${shown}: in code a duration is a number of milliseconds (${String(Number(ms.toPrecision(15)))}); duration text like "5s" is read only from a config file`;
}

/**
 * The own keys of `options` a `close(options)` does not know, checked only on a plain object
 * (`{ timeout: 2000 }`, a misspelling of `timeoutMs` that was ignored). `close` is often handed to
 * other code as a callback (`fastify.addHook('onClose', tracer.close)`, an event listener), which
 * calls it with its own object — a framework instance, an event — whose keys are not options: such
 * a call closes with the defaults, as it always did, rather than being refused and closing nothing.
 */
export function unknownCloseKeys(options: unknown, known: readonly string[]): string[] {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return [];
  let proto: unknown;
  try {
    proto = Object.getPrototypeOf(options);
  } catch {
    return []; // a revoked Proxy: not an options literal
  }
  if (proto !== Object.prototype && proto !== null) return [];
  return Object.keys(options).filter((key) => !known.includes(key));
}

/**
 * `options` of a `close(options)`, or `undefined` when it is what a caller of `close` handed over
 * as a callback passes rather than options: a string (the signal name, `process.once('SIGTERM',
 * tracer.close)`), a number (the exit code, `process.on('beforeExit', metrics.close)`) or a
 * boolean (`hadError` of a socket's `close` event). Such a call closes with the defaults, as one
 * with a framework instance or an event does (`unknownCloseKeys`); it was refused, and the
 * rejection nobody awaited was an unhandled rejection that ended the process at shutdown with
 * nothing closed (its queued spans lost). `null` and anything else stay as given (checked).
 */
export function closeOptionsOf<T>(options: T): T | undefined {
  const type = typeof options;
  return type === 'string' || type === 'number' || type === 'boolean' ? undefined : options;
}

/** One issue per own key of `options` that is not in `known` (nothing when `options` is not an object). */
export function unknownKeyIssues(options: unknown, known: readonly string[], prefix = ''): ConfigIssue[] {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return [];
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    issues.push({
      path: `${prefix}${key}`,
      expected: `one of ${known.join(', ')}`,
      received: typeName((options as Record<string, unknown>)[key]),
      message: unknownKeyMessage(key, known),
    });
  }
  return issues;
}

/**
 * The issues for every unknown key of `options` and of the nested option objects given in
 * `nested` (e.g. `{ cluster: ['maxRedirects', 'readOnly'] }`), each with the nearest known key as
 * a suggestion. Non-objects give none (the factory's own checks report them).
 */
export function unknownOptionIssues(
  options: unknown,
  known: readonly string[],
  nested: Readonly<Record<string, readonly string[]>> = {},
): ConfigIssue[] {
  const issues = unknownKeyIssues(options, known);
  if (typeof options === 'object' && options !== null) {
    for (const [key, keys] of Object.entries(nested)) {
      issues.push(...unknownKeyIssues((options as Record<string, unknown>)[key], keys, `${key}.`));
    }
  }
  return issues;
}

/** Throws a `ConfigError` listing `unknownOptionIssues`; `where` names the factory in the message. */
export function rejectUnknownKeys(
  options: unknown,
  known: readonly string[],
  where: string,
  nested: Readonly<Record<string, readonly string[]>> = {},
): void {
  const issues = unknownOptionIssues(options, known, nested);
  if (issues.length > 0) throw new ConfigError(`${where}: unknown option(s)`, issues);
}

/** `Object.keys` of a record that lists every key of `T` exactly once (checked by the compiler). */
export function optionKeys<T>(keys: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}
