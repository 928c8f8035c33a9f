/**
 * The W3C Trace Context propagator (`traceparent` + `tracestate`) with the specification's own
 * validation of `tracestate` (lib/core/tracestate.ts): an invalid header is dropped whole instead
 * of being passed on in part, keys follow the current grammar (`foo@`, `a@b@c` are valid keys,
 * `@foo` is not), at most 32 members. OpenTelemetry JS's `W3CTraceContextPropagator` and
 * `TraceState` accept some invalid headers and reject some valid keys; this one replaces them for
 * the `tracecontext` propagator name. `traceparent` follows the same rules as the core's parser
 * (lib/core/w3c.ts), inlined here because extraction runs once per incoming request: lowercase hex
 * only (an uppercase id makes the header invalid, so it is ignored and a new trace starts, as in
 * OpenTelemetry's own propagator), and ids are always written in lowercase.
 */
import type {
  Context,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
  TraceState,
} from '@opentelemetry/api';
import {
  isTracestateKey,
  isTracestateValue,
  MAX_TRACESTATE_MEMBERS,
  parseTracestate,
  serializeTracestate,
  type TracestateMembers,
  trimOws,
} from '../../core/tracestate.js';
import { KNOWN_TRACE_FLAGS, lowerHex } from '../../core/w3c.js';
import { api, core } from './peers.js';

const { isSpanContextValid, trace } = api;
const { isTracingSuppressed } = core;

const TRACEPARENT = 'traceparent';
/**
 * version-traceid-spanid-flags, anything after the flags kept for the version check; matched
 * after `trimOws`. (Spaces and tabs around used to be part of the pattern, `(-.*?)?[ \t]*$`: that
 * backtracked over every split of a long tail, O(n²) — a 16 KB header cost ~0.3 s of CPU.)
 */
const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE = '00000000000000000000000000000000';
const INVALID_SPAN = '0000000000000000';
const TRACESTATE = 'tracestate';

/** An immutable, validated trace state (OpenTelemetry's `TraceState` interface). */
export class W3CTraceState implements TraceState {
  private readonly members: TracestateMembers;
  private text: string | undefined;

  constructor(members: TracestateMembers) {
    this.members = members;
    this.text = undefined;
  }

  /** A copy with `key=value` first (spec: an updated member moves to the left); invalid input is ignored. */
  set(key: string, value: string): TraceState {
    if (!isTracestateKey(key) || !isTracestateValue(value)) return this;
    const rest = this.members.filter(([k]) => k !== key);
    // Adding past the limit drops the right-most member.
    if (rest.length >= MAX_TRACESTATE_MEMBERS) rest.length = MAX_TRACESTATE_MEMBERS - 1;
    return new W3CTraceState([[key, value], ...rest]);
  }

  unset(key: string): TraceState {
    return this.members.some(([k]) => k === key)
      ? new W3CTraceState(this.members.filter(([k]) => k !== key))
      : this;
  }

  get(key: string): string | undefined {
    for (const [k, v] of this.members) if (k === key) return v;
    return undefined;
  }

  serialize(): string {
    this.text ??= serializeTracestate(this.members);
    return this.text;
  }
}

/** A trace state for incoming header value(s): `undefined` when absent, empty or invalid (dropped). */
export function traceStateFrom(header: string | readonly string[] | undefined): TraceState | undefined {
  const members = parseTracestate(header);
  return members && members.length > 0 ? new W3CTraceState(members) : undefined;
}

/** `traceparent`/`tracestate` inject and extract, validated as the specification asks. */
export class TraceContextPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(ctx);
    if (!sc || isTracingSuppressed(ctx) || !isSpanContextValid(sc)) return;
    // Reserved flag bits are never sent (W3C: vendors MUST set them to zero): an incoming `-ff`
    // went out as `-ff` from a disabled tracer's pass-through.
    const flags = (sc.traceFlags & KNOWN_TRACE_FLAGS).toString(16).padStart(2, '0');
    // OpenTelemetry's span contexts take uppercase hex ids as valid (a B3 or Jaeger header, a
    // context made by hand): a traceparent has lowercase ones only (a downstream parser would drop it).
    setter.set(carrier, TRACEPARENT, `00-${lowerHex(sc.traceId)}-${lowerHex(sc.spanId)}-${flags}`);
    const state = sc.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, TRACEPARENT);
    // Two traceparent headers are ambiguous: neither is trusted (a new trace starts).
    const header = Array.isArray(raw) ? (raw.length === 1 ? raw[0] : undefined) : raw;
    if (typeof header !== 'string') return ctx;
    const m = TRACEPARENT_FORMAT.exec(trimOws(header));
    // Version ff is forbidden; version 00 has nothing after the flags; all-zero ids are invalid.
    if (m === null || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return ctx;
    const traceId = m[2]!;
    const spanId = m[3]!;
    if (traceId === INVALID_TRACE || spanId === INVALID_SPAN) return ctx;
    const state = getter.get(carrier, TRACESTATE);
    return trace.setSpanContext(ctx, {
      traceId,
      spanId,
      traceFlags: Number.parseInt(m[4]!, 16),
      isRemote: true,
      traceState: state === undefined ? undefined : traceStateFrom(state),
    });
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}
