/**
 * The envelope both levels store: a 26-byte header in front of the caller's bytes, so any reader
 * knows when the value stops being fresh and how long it may still be served as stale (grace),
 * whatever TTL the level itself was given.
 *
 *   byte 0      0xC1  marker (never valid in UTF-8, JSON or MessagePack, so plain values are not
 *                     mistaken for envelopes)
 *   byte 1      0x01  format version
 *   bytes 2-9   freshUntil  float64 BE, ms since the epoch (writer's clock); Infinity = no expiry
 *   bytes 10-17 staleUntil  float64 BE, end of the grace window (≥ freshUntil)
 *   bytes 18-25 ttl         float64 BE, the fresh lifetime this copy was written with (0 = none);
 *                           early refresh measures "close to expiry" against it
 *   bytes 26-   the value
 */
import type { Bytes } from '../../core/contracts.js';
import { MAX_TTL_MS } from '../../core/options.js';
import { MAX_CALL_TTL_MS } from '../../core/validate.js';

export const HEADER_BYTES = 26;
const MARKER = 0xc1;
const VERSION = 0x01;

export interface Envelope {
  readonly value: Bytes;
  readonly freshUntil: number;
  readonly staleUntil: number;
  readonly ttl: number;
}

export function encodeEnvelope(value: Bytes, freshUntil: number, staleUntil: number, ttl: number): Bytes {
  const out = new Uint8Array(HEADER_BYTES + value.byteLength);
  const view = new DataView(out.buffer);
  out[0] = MARKER;
  out[1] = VERSION;
  view.setFloat64(2, freshUntil);
  view.setFloat64(10, staleUntil);
  view.setFloat64(18, ttl);
  // Not for an empty value: a view whose ArrayBuffer was transferred reads as 0 bytes (the empty
  // value, as the memory cache stores it), but `set` from it threw a raw TypeError.
  if (value.byteLength > 0) out.set(value, HEADER_BYTES);
  return out;
}

/**
 * Reads an envelope; `undefined` when `bytes` is not one (a value written by something other than
 * a tiered cache). The value is a view into `bytes`, not a copy.
 *
 * The marker keeps text, JSON and MessagePack out, but a foreign binary value (protobuf, a hash)
 * may start with the same two bytes; so the header must also be one a writer could have made, or
 * the bytes are served whole as a foreign value rather than cut and given invented expiry times.
 */
export function decodeEnvelope(bytes: Bytes): Envelope | undefined {
  if (bytes.byteLength < HEADER_BYTES || bytes[0] !== MARKER || bytes[1] !== VERSION) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const freshUntil = view.getFloat64(2);
  const staleUntil = view.getFloat64(10);
  const ttl = view.getFloat64(18);
  if (!plausibleHeader(freshUntil, staleUntil, ttl)) return undefined;
  return { value: bytes.subarray(HEADER_BYTES), freshUntil, staleUntil, ttl };
}

/**
 * Everything writers can produce, whatever the clock: no NaN; no expiry means both ends infinite
 * and ttl 0; otherwise a finite freshUntil, a grace (staleUntil − freshUntil) within the grace
 * option's bound (plus rounding), and a ttl within the call bound doubled (the most jitter adds).
 * This refuses corrupt headers and most foreign ones; a foreign value can still pass by chance.
 */
function plausibleHeader(freshUntil: number, staleUntil: number, ttl: number): boolean {
  if (!(ttl >= 0 && ttl <= 2 * MAX_CALL_TTL_MS)) return false;
  if (freshUntil === Number.POSITIVE_INFINITY) return staleUntil === freshUntil && ttl === 0;
  const grace = staleUntil - freshUntil;
  return Number.isFinite(freshUntil) && grace >= 0 && grace <= MAX_TTL_MS * 1.001;
}
