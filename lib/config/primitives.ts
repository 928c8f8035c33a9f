/** Reusable valibot pieces for config sections. */
import * as v from 'valibot';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "250ms", "5s", "1m", "1h", "1.5s" to milliseconds; `undefined` when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** A duration: a number of milliseconds, or a string like "5s" / "250ms" (the original YAML style). Output: ms. */
export const duration = v.pipe(
  v.union([
    v.pipe(v.number(), v.finite(), v.minValue(0)),
    v.pipe(
      v.string(),
      v.check((s) => parseDuration(s) !== undefined, 'a duration like "250ms", "5s", "1m" or a number of ms'),
    ),
  ]),
  v.transform((x) => (typeof x === 'number' ? x : parseDuration(x)!)),
);

/** "host:port" with a port in 1..65535. */
export const hostPort = v.pipe(
  v.string(),
  v.regex(/^(\[[0-9a-fA-F:]+\]|[^\s:/]+):(\d{1,5})$/, 'an address "host:port"'),
  v.check((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'a port between 1 and 65535'),
);

export const port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));

/** An absolute http(s) URL. */
export const httpUrl = v.pipe(
  v.string(),
  v.url('an absolute URL'),
  v.check((s) => /^https?:\/\//.test(s), 'an http:// or https:// URL'),
);
