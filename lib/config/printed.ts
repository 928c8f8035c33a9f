/**
 * How a validated config prints. It holds the secrets of its sources (passwords, tokens, OTLP
 * header values, TLS key passphrases): `console.log(config)`, `util.inspect`, a logger field or
 * `JSON.stringify` of it — or of any section of it — shows `[redacted]` in their place and URLs
 * without their password. The values stay readable as properties.
 */
import { inspect } from 'node:util';
import { isSecretField } from './messages.js';

const REDACTED = '[redacted]';

const isRecord = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** `scheme://user:password@host…` → `scheme://user:[redacted]@host…`. */
const withoutPassword = (s: string) =>
  s.replace(/^([a-z][a-z\d+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, `$1:${REDACTED}@`);

/**
 * A copy of `value` for printing: every text or byte value under a secret-named field (and every
 * header value: `x-honeycomb-team` carries a key too) replaced; numbers and booleans are kept
 * (`reject_unauthorized: false` must stay visible).
 */
function redacted(value: unknown, secret: boolean): unknown {
  if (Array.isArray(value)) return value.map((x) => redacted(x, secret));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value))
      out[k] = redacted(x, secret || k === 'headers' || isSecretField(k));
    return out;
  }
  if (typeof value === 'string') return secret ? REDACTED : withoutPassword(value);
  if (secret && (Buffer.isBuffer(value) || value instanceof Uint8Array)) return REDACTED;
  return value;
}

/** Makes `config` and every mapping inside it print redacted (non-enumerable: copies and equality are unchanged). */
export function printRedacted<T>(config: T, secret = false): T {
  if (Array.isArray(config)) for (const x of config) printRedacted(x, secret);
  if (!isRecord(config) || Object.isFrozen(config)) return config;
  const node = config;
  Object.defineProperties(node, {
    [inspect.custom]: {
      configurable: true,
      value: (depth: number, options: object) =>
        depth < 0 ? '[Object]' : inspect(redacted(node, secret), options),
    },
    toJSON: { configurable: true, value: () => redacted(node, secret) },
  });
  for (const [k, x] of Object.entries(node)) printRedacted(x, secret || k === 'headers' || isSecretField(k));
  return config;
}
