/**
 * A propagate-only `Tracer` that needs no package at all (`hyperion/tracing`): what
 * `exporter: 'none'` means, for applications that load no OpenTelemetry (`createAppFromConfig`
 * uses it for `tracing.exporter: none`). Nothing is recorded; every span gets a new span id under
 * its parent's trace (flags and validated `tracestate` kept), a span without a valid parent starts
 * a new trace whose sampled flag follows `sampleRate`, and W3C `traceparent` / `tracestate` /
 * `baggage` are read and written. Same behaviour as `createOtelTracer({ exporter: 'none' })` with
 * the default propagators.
 */
import { randomFillSync } from 'node:crypto';
import { injectInto, isHeaderMap, readableCarrier } from '../core/carrier.js';
import type {
  Baggage,
  ExtractedContext,
  HeaderCarrier,
  Span,
  SpanContext,
  Tracer,
} from '../core/contracts.js';
import { ConfigError, type ConfigIssue, typeName } from '../core/errors.js';
import { noopTracer } from '../core/noop.js';
import { optionKeys, unknownOptionIssues } from '../core/options.js';
import { normalizeTracestate } from '../core/tracestate.js';
import {
  formatTraceparent,
  headerValue,
  isValidSpanContext,
  parseTraceparent,
  readSpanContext,
  setBaggageEntry,
} from '../core/w3c.js';

/** Random lowercase hex ids, never all zeros (the W3C invalid value), from a pooled buffer. */
export function createIdSource(): { traceId(): string; spanId(): string } {
  const pool = Buffer.allocUnsafe(4096);
  let offset = pool.length;
  const hex = (bytes: number): string => {
    for (;;) {
      if (offset + bytes > pool.length) {
        randomFillSync(pool);
        offset = 0;
      }
      const id = pool.toString('hex', offset, offset + bytes);
      offset += bytes;
      if (/[^0]/.test(id)) return id;
    }
  };
  return { traceId: () => hex(16), spanId: () => hex(8) };
}

class PropagatingSpan implements Span {
  constructor(private readonly sc: SpanContext) {}
  setAttributes() {
    return this;
  }
  addEvent() {
    return this;
  }
  recordError() {
    return this;
  }
  setStatus() {
    return this;
  }
  updateName() {
    return this;
  }
  // Links, like an end or event time, are recorded by nothing here: taken and ignored.
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
  end() {}
  spanContext() {
    return this.sc;
  }
  isRecording() {
    return false;
  }
}

const EMPTY_BAGGAGE: Baggage = Object.freeze({});

/**
 * The W3C baggage limits OpenTelemetry JS applies (`@opentelemetry/core` baggage constants), so
 * this tracer reads and writes what `createOtelTracer({ exporter: 'none' })` does: at most 180
 * members, 4096 characters per member, 8192 for the whole header. Without them a hostile or
 * careless baggage was passed on whole (200 members read, a 120 KB header written).
 */
const BAGGAGE_MAX_MEMBERS = 180;
const BAGGAGE_MAX_MEMBER_LENGTH = 4096;
const BAGGAGE_MAX_LENGTH = 8192;

/**
 * W3C `baggage`: `key=value` list members, percent-encoded, properties after `;` ignored; members
 * over the limits above are skipped (too long) or not read (past 180 members or 8192 characters).
 */
function parseBaggage(header: string | undefined): Baggage {
  if (!header) return EMPTY_BAGGAGE;
  const out: Record<string, string> = {};
  let count = 0;
  let total = 0;
  for (const member of header.split(',')) {
    if (count >= BAGGAGE_MAX_MEMBERS) break;
    if (member.length > BAGGAGE_MAX_MEMBER_LENGTH) continue;
    const pair = member.split(';')[0]!;
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    // A malformed member (a `%` not followed by two hex digits) is skipped, never thrown.
    const key = percentDecode(pair.slice(0, eq).trim());
    if (!key) continue;
    const value = percentDecode(pair.slice(eq + 1).trim());
    if (value === undefined) continue;
    const size = (count === 0 ? 0 : 1) + member.length;
    if (total + size > BAGGAGE_MAX_LENGTH) break;
    setBaggageEntry(out, key, value);
    count++;
    total += size;
  }
  return count > 0 ? out : EMPTY_BAGGAGE;
}

const MALFORMED_ESCAPE = /%(?![0-9a-fA-F]{2})/;
const ESCAPES = /(?:%[0-9a-fA-F]{2})+/g;

/**
 * `s` percent-decoded, or `undefined` when it has a `%` that starts no escape. Each run of
 * escapes is decoded as UTF-8 bytes, a sequence that is not UTF-8 as U+FFFD: "percent-encoded
 * octet sequences that do not match the UTF-8 encoding scheme MUST be replaced with the
 * replacement code point" (W3C Baggage, value). `decodeURIComponent` threw on them, and the whole
 * member was dropped (`name=Ren%E9` from a Latin-1 producer, or a value cut inside a character).
 */
export function percentDecode(s: string): string | undefined {
  if (!s.includes('%')) return s;
  if (MALFORMED_ESCAPE.test(s)) return undefined;
  return s.replace(ESCAPES, (run) => Buffer.from(run.replaceAll('%', ''), 'hex').toString('utf8'));
}

/**
 * `s` with each lone surrogate replaced by U+FFFD, as a UTF-8 encoder writes it (`TextEncoder`):
 * `encodeURIComponent` throws a `URIError` on one, so a baggage value cut in the middle of an
 * emoji (`name.slice(0, 32)`) made every `injectHeaders` and `tracedFetch` of that context throw.
 */
export function wellFormed(s: string): string {
  const w = s as WellFormed;
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** `String.prototype.isWellFormed` / `toWellFormed` (Node 20+; typed in the ES2024 lib, newer than ours). */
type WellFormed = string & { isWellFormed(): boolean; toWellFormed(): string };

/**
 * A baggage key as the header's grammar wants it, a `token` (RFC 7230): percent-encoded, `(` and
 * `)` included — `encodeURIComponent` leaves them as they are, and a key like `region(eu)` made the
 * whole header invalid for a receiver that checks the grammar (OpenTelemetry Go drops all of it).
 */
export function encodeKey(key: string): string {
  return encodeURIComponent(wellFormed(key)).replace(/[()]/g, (c) => (c === '(' ? '%28' : '%29'));
}

function formatBaggage(baggage: Baggage): string {
  let out = '';
  let count = 0;
  for (const k in baggage) {
    if (count >= BAGGAGE_MAX_MEMBERS) break;
    const v = baggage[k];
    // An empty key makes `=value`, a malformed member: strict receivers drop the whole header.
    if (typeof v !== 'string' || k === '') continue;
    const member = `${encodeKey(k)}=${encodeURIComponent(wellFormed(v))}`;
    if (member.length > BAGGAGE_MAX_MEMBER_LENGTH) continue;
    count++;
    // As OpenTelemetry's serializer: a member that would overflow the header is left out.
    const next = out === '' ? member : `${out},${member}`;
    if (next.length <= BAGGAGE_MAX_LENGTH) out = next;
  }
  return out;
}

export interface PropagateOnlyOptions {
  /** Sampled flag of new traces: the fraction sampled, 0..1. Default 1. */
  sampleRate?: number | undefined;
  /**
   * Random source for that decision (parent-based only), for tests. Default: none — the trace id
   * decides, by the rule of OpenTelemetry JS's trace-id ratio sampler (`ratioDecision`).
   */
  random?: (() => number) | undefined;
  /**
   * `true` (default): a span with a valid parent keeps the parent's sampled flag. `false` (what
   * `OTEL_TRACES_SAMPLER` always_on / always_off / traceidratio mean): every span's flag is
   * `sampleRate`'s own decision.
   */
  parentBased?: boolean | undefined;
  /**
   * The W3C formats read and written, as `createOtelTracer`'s `propagators`: `tracecontext`
   * (`traceparent` + `tracestate`), `baggage`. Default both; `[]` propagates nothing.
   */
  propagators?: readonly ('tracecontext' | 'baggage')[] | undefined;
}

/** The propagate-only tracer (see the module comment). */
const KNOWN = optionKeys<PropagateOnlyOptions>({
  sampleRate: true,
  random: true,
  parentBased: true,
  propagators: true,
});

const FORMATS: readonly string[] = ['tracecontext', 'baggage'];

/**
 * Checks the options as `createOtelTracer` checks its own (one `ConfigError` listing every bad
 * field): a `sampleRate` of 2 or `'0.1'` used to be taken as it was (every new trace sampled, or
 * none), and a misspelt key silently gave the default.
 */
function checkOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createPropagateOnlyTracer: options must be an object', [
      { path: '', expected: 'object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const o = options as Record<string, unknown>;
  const issues: ConfigIssue[] = unknownOptionIssues(o, KNOWN);
  const rate = o.sampleRate;
  if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)))
    issues.push({
      path: 'sampleRate',
      expected: 'number between 0 and 1',
      received: typeName(rate),
      message: 'must be between 0.0 and 1.0',
    });
  if (o.parentBased !== undefined && typeof o.parentBased !== 'boolean')
    issues.push({
      path: 'parentBased',
      expected: 'boolean',
      received: typeName(o.parentBased),
      message: 'must be true or false',
    });
  if (o.random !== undefined && typeof o.random !== 'function')
    issues.push({
      path: 'random',
      expected: 'function',
      received: typeName(o.random),
      message: 'must be a function',
    });
  const props = o.propagators;
  if (props !== undefined) {
    if (!Array.isArray(props))
      issues.push({
        path: 'propagators',
        expected: 'array of tracecontext | baggage',
        received: typeName(props),
        message: 'must be an array',
      });
    else
      props.forEach((p: unknown, i) => {
        if (typeof p !== 'string' || !FORMATS.includes(p))
          issues.push({
            path: `propagators.${i}`,
            expected: FORMATS.join(' | '),
            received: typeName(p),
            message: 'unknown propagator (this tracer speaks the W3C formats only)',
          });
      });
  }
  if (issues.length > 0) throw new ConfigError('createPropagateOnlyTracer: invalid options', issues);
}

/**
 * The sampled flag a plain (not parent-based) ratio sampler gives a span of `traceId`: decided by
 * the trace id itself, so every span of one trace, in every service, gets the same answer — a
 * per-span random draw would cut traces apart. The id's four 32-bit words XORed together, below
 * `rate` × (2³² − 1): the rule of OpenTelemetry JS's trace-id ratio sampler, which a recording
 * `createOtelTracer` uses, so a propagate-only service and a recording one agree on each trace.
 * (It read the rightmost 56 bits: half the traces were sampled in one service and not in the next.)
 */
export function ratioDecision(traceId: string, rate: number): 0 | 1 {
  if (rate >= 1) return 1;
  if (!(rate > 0)) return 0;
  let words = 0;
  for (let i = 0; i < 32; i += 8) words = (words ^ Number.parseInt(traceId.slice(i, i + 8), 16)) >>> 0;
  return words < Math.floor(rate * 0xffffffff) ? 1 : 0;
}

export function createPropagateOnlyTracer(options: PropagateOnlyOptions = {}): Tracer {
  checkOptions(options);
  const ids = createIdSource();
  const rate = options.sampleRate ?? 1;
  const random = options.random;
  const parentBased = options.parentBased !== false;
  // A new trace is decided by its trace id, as the root sampler of OpenTelemetry's parent-based
  // ratio sampler (and the plain ratio sampler) decides it: one trace id gets the same answer here
  // and in a recording service. It was a `Math.random()` draw, so a new trace's flag disagreed
  // with OpenTelemetry's for ~40 % of trace ids at rate 0.3. A `random` given still decides alone.
  const decide = (traceId: string) =>
    random && parentBased
      ? rate >= 1 || (rate > 0 && random() < rate)
        ? 1
        : 0
      : ratioDecision(traceId, rate);
  const formats = options.propagators ?? FORMATS;
  // A format not configured is neither read nor written (`propagators: [tracecontext]` used to
  // pass baggage on, and `[]` everything).
  const traceContext = formats.includes('tracecontext');
  const withBaggage = formats.includes('baggage');
  const tracer: Tracer = {
    startSpan(_name, spanOptions) {
      // A parent whose spanContext() throws is no parent: a new trace starts.
      const parent = spanOptions?.parent;
      const psc = parent ? readSpanContext(parent) : undefined;
      if (psc && isValidSpanContext(psc)) {
        const sc: SpanContext = {
          // Lowercase, as every id this tracer writes (a parent of the user's own may report uppercase).
          traceId: psc.traceId.toLowerCase(),
          spanId: ids.spanId(),
          traceFlags: parentBased
            ? psc.traceFlags & 0x03
            : (psc.traceFlags & 0x02) | ratioDecision(psc.traceId, rate),
        };
        return new PropagatingSpan(psc.traceState ? { ...sc, traceState: psc.traceState } : sc);
      }
      const traceId = ids.traceId();
      return new PropagatingSpan({ traceId, spanId: ids.spanId(), traceFlags: decide(traceId) });
    },
    inject(carrier, source) {
      // A `Headers` or `Map` (JavaScript callers; the type asks for a plain object) is written with `set`.
      if (isHeaderMap(carrier)) return injectInto(carrier, (plain) => tracer.inject(plain, source));
      const span = source?.span;
      const baggage = source?.baggage;
      const sc = traceContext && span ? readSpanContext(span) : undefined;
      if (sc && isValidSpanContext(sc)) {
        // Checked as a receiver checks them (as the no-op tracer does): a parent Span of the
        // user's own with ids that are not hex went out as a traceparent every receiver drops, and
        // its tracestate as it was (a line break in it made the outgoing request throw).
        const traceparent = formatTraceparent(sc);
        if (parseTraceparent(traceparent)) {
          carrier.traceparent = traceparent;
          const traceState = sc.traceState ? normalizeTracestate(sc.traceState) : undefined;
          if (traceState) carrier.tracestate = traceState;
        }
      }
      if (baggage && withBaggage) {
        const b = formatBaggage(baggage);
        if (b) carrier.baggage = b;
      }
    },
    extract(carrier: Readonly<HeaderCarrier>): ExtractedContext {
      if (!carrier || typeof carrier !== 'object') return { baggage: EMPTY_BAGGAGE };
      carrier = readableCarrier(carrier); // a `Headers` or `Map` is read by its entries
      // Only string (or string-array) values are read: anything else is ignored, never thrown.
      const baggage = withBaggage ? parseBaggage(headerValue(carrier, 'baggage')) : EMPTY_BAGGAGE;
      const sc = traceContext
        ? parseTraceparent(
            headerValue(carrier, 'traceparent'),
            normalizeTracestate(headerValue(carrier, 'tracestate')),
          )
        : undefined;
      return sc ? { parent: new PropagatingSpan(sc), baggage } : { baggage };
    },
  };
  return tracer;
}

/**
 * What `createOtelTracer({ enabled: false, propagators })` is, without OpenTelemetry: nothing
 * recorded, a span keeps its parent's ids (the no-op tracer's pass-through), and the W3C formats
 * of `propagators` — `baggage` with them — are read and written as the propagate-only tracer does.
 * `createAppFromConfig` uses it for `OTEL_SDK_DISABLED=true` over the propagate-only setup when
 * OpenTelemetry is not installed: it used the no-op tracer, which reads and writes no baggage, so
 * the same file and environment passed the request's baggage on or dropped it depending on
 * whether OpenTelemetry happened to be installed.
 */
export function createPassThroughTracer(propagators?: PropagateOnlyOptions['propagators']): Tracer {
  const w3c = createPropagateOnlyTracer({ propagators });
  return { startSpan: noopTracer.startSpan, inject: w3c.inject, extract: w3c.extract };
}
