/**
 * Header carriers with methods — a WHATWG `Headers` (fetch, undici, Request/Response) or a `Map` —
 * for the propagation helpers and the built-in tracers, which read and write plain header objects
 * (`carrier[name]`). Such a carrier used to be read as a plain object: it has no `traceparent`
 * property, so the incoming trace was silently lost, and inject wrote properties onto the object
 * that `fetch` never sends.
 */
import type { HeaderCarrier, HeaderMap } from './contracts.js';

/** True for a `Headers`-like or `Map` carrier (plain header objects hold only strings and arrays). */
export function isHeaderMap(carrier: unknown): carrier is HeaderMap {
  if (carrier === null || typeof carrier !== 'object') return false;
  try {
    const c = carrier as Partial<Record<'get' | 'set' | 'forEach', unknown>>;
    return typeof c.get === 'function' && typeof c.set === 'function' && typeof c.forEach === 'function';
  } catch {
    return false; // a Proxy whose getter throws: read as a plain object (which ignores it)
  }
}

/**
 * The entries of `map` as a plain header object with lowercase names (`Headers` already lowercases
 * them; a `Map` keeps the case it was given). String values, and arrays of strings, are kept; a
 * name given twice in different cases becomes an array, as node:http gives a repeated header.
 * A map that throws while being read gives what was read before (extraction never throws).
 */
export function plainHeaders(map: HeaderMap): HeaderCarrier {
  const out: Record<string, string | string[]> = Object.create(null);
  try {
    map.forEach((value: unknown, key: unknown) => {
      addHeader(out, key, value);
    });
  } catch {
    // keep what was read
  }
  return out;
}

function addHeader(out: Record<string, string | string[]>, key: unknown, value: unknown): void {
  if (typeof key !== 'string') return;
  const name = key.toLowerCase();
  const v = typeof value === 'string' ? value : Array.isArray(value) ? value.filter(isString) : undefined;
  if (v === undefined) return;
  const prev = out[name];
  out[name] = prev === undefined ? v : ([] as string[]).concat(prev, v);
}

/**
 * A plain header object with lowercase names, as the tracers read it (`carrier.traceparent`):
 * itself when every name already is (node:http's `req.headers`), else a copy made as for a `Map`.
 * Header names ignore case, but one built by hand or taken from another source (an API gateway
 * event, a message's headers) with `Traceparent` lost the incoming trace without a word.
 */
export function lowercaseHeaders<C>(headers: C): C | HeaderCarrier {
  if (headers === null || typeof headers !== 'object') return headers;
  let keys: string[];
  try {
    keys = Object.keys(headers);
  } catch {
    return headers; // a Proxy that cannot list its keys: read as it is (the tracers ignore it)
  }
  if (keys.every((k) => k === k.toLowerCase())) return headers;
  const out: Record<string, string | string[]> = Object.create(null);
  for (const key of keys) {
    try {
      addHeader(out, key, (headers as Record<string, unknown>)[key]);
    } catch {
      // a getter that throws: no such header
    }
  }
  return out;
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** `carrier` as a plain header object: itself unless it is a `HeaderMap`. */
export function readableCarrier<C>(carrier: C): C | HeaderCarrier {
  return isHeaderMap(carrier) ? plainHeaders(carrier) : carrier;
}

/**
 * Runs `inject` on a plain object and copies what it wrote into `map` with `map.set` (a
 * `Headers` whose guard refuses writes — a `Response`'s — throws its own `TypeError`).
 */
export function injectInto(map: HeaderMap, inject: (plain: Record<string, string>) => void): void {
  const plain: Record<string, string> = {};
  inject(plain);
  if (staleTracestate(plain)) removeTracestate(map);
  for (const name in plain) {
    // A `Map`'s names keep their case: a `Traceparent` already in it went out beside ours (a
    // request built from it sent both, joined, and the receiver dropped the pair).
    removeOtherCase(map, name);
    map.set(name, plain[name]!);
  }
}

/** Deletes the entries of a `Map` (not a `Headers`: its names ignore case) named `name` in another case. */
function removeOtherCase(map: HeaderMap, name: string): void {
  const m = map as HeaderMap & { delete?: (name: string) => unknown };
  if (typeof m.delete !== 'function' || (typeof Headers === 'function' && map instanceof Headers)) return;
  const names: string[] = [];
  map.forEach((_value, key) => {
    if (typeof key === 'string' && key !== name && key.toLowerCase() === name) names.push(key);
  });
  for (const key of names) m.delete(key);
}

/** Deletes every `tracestate` of `map`: one lookup for a `Headers` (names ignore case), a walk for a `Map`. */
function removeTracestate(map: HeaderMap): void {
  const m = map as HeaderMap & { has?: (name: string) => unknown; delete?: (name: string) => unknown };
  if (typeof m.delete !== 'function') return;
  if (typeof Headers === 'function' && map instanceof Headers) {
    if (map.has('tracestate')) map.delete('tracestate');
    return;
  }
  const names: string[] = [];
  map.forEach((_value, key) => {
    if (typeof key === 'string' && key.toLowerCase() === 'tracestate') names.push(key);
  });
  for (const name of names) m.delete(name);
}

/**
 * True when `written` (what a tracer's inject wrote) has a `traceparent` but no `tracestate`: a
 * `tracestate` already in the caller's carrier (headers forwarded from the incoming request) then
 * belongs to another trace, or is one the tracer dropped as invalid, and must not go out beside the
 * new `traceparent` (W3C Trace Context: the tracestate is the traceparent's). It used to stay.
 */
export function staleTracestate(written: Readonly<Record<string, string>>): boolean {
  return written.traceparent !== undefined && written.tracestate === undefined;
}
