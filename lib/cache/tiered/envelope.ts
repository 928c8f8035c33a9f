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
  out.set(value, HEADER_BYTES);
  return out;
}

/**
 * Reads an envelope; `undefined` when `bytes` is not one (a value written by something other than
 * a tiered cache). The value is a view into `bytes`, not a copy.
 */
export function decodeEnvelope(bytes: Bytes): Envelope | undefined {
  if (bytes.byteLength < HEADER_BYTES || bytes[0] !== MARKER || bytes[1] !== VERSION) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    value: bytes.subarray(HEADER_BYTES),
    freshUntil: view.getFloat64(2),
    staleUntil: view.getFloat64(10),
    ttl: view.getFloat64(18),
  };
}
