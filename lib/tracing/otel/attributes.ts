/**
 * Attribute values OpenTelemetry cannot carry (objects, functions, bigints, mixed arrays) are
 * dropped, and non-finite numbers (NaN, ±Infinity, also inside a number array) are sent as
 * strings, with one warning per key, never showing the value. Nearly every attribute set holds
 * only finite scalars, so every entry point first runs `allScalar` (one `typeof` pass, no
 * allocation) and only a set that fails it takes the full test and the warning path.
 */
import type { Attributes as OtelAttributes } from '@opentelemetry/api';
import type { Attributes, Logger } from '../../core/contracts.js';

/** Past this many distinct keys we stop remembering which ones were warned about (memory bound). */
const MAX_WARNED_KEYS = 1000;

/**
 * True when every value is a string, finite number, boolean or undefined (all passed on as they
 * are). False says only "look closer": arrays fail it too. The `typeof` tests are written out in
 * the loop: the same test through a `typeof` variable and a nested helper call measured ~8 ns
 * slower per 3-key set. `v - v === 0` is false only for NaN and ±Infinity.
 */
export function allScalar(attributes: Attributes): boolean {
  // An empty name (one lookup per set, not per key): OpenTelemetry drops it, so the full test
  // drops it with a warning (`AttributeFilter`).
  if ('' in attributes) return false;
  for (const key in attributes) {
    const v = attributes[key];
    if (
      typeof v === 'string' ||
      (typeof v === 'number' && v - v === 0) ||
      typeof v === 'boolean' ||
      v === undefined
    )
      continue;
    return false;
  }
  return true;
}

/**
 * `Array.isArray`, false for a revoked `Proxy` (it throws there): such a set is then taken as an
 * object whose keys cannot be listed, which `copy` turns into no attributes with the `unreadable`
 * warning. It threw out of `setAttributes`, `addEvent` and `startSpan` into the caller's request.
 */
function isArray(v: unknown): boolean {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * `'Map'`, `'Set'` or `'Headers'` for such a collection given as the attributes, else undefined
 * (one prototype read for a plain object). Their entries are not properties: a `Map` set nothing,
 * silently, and a fetch `Headers` (whose methods are enumerable) got one "unsupported value type"
 * warning per method name — `append`, `delete`, `get` … — while its headers were lost.
 */
function collectionKind(x: object): string | undefined {
  try {
    const proto: unknown = Object.getPrototypeOf(x);
    if (proto === Object.prototype || proto === null) return undefined;
    if (x instanceof Map) return 'Map';
    if (x instanceof Set) return 'Set';
    if (typeof Headers === 'function' && x instanceof Headers) return 'Headers';
    return undefined;
  } catch {
    return undefined; // a revoked Proxy: `copy` drops it as unreadable
  }
}

/** `passOn`'s answer for a value OpenTelemetry cannot carry: the key is left out. */
const DROP: unique symbol = Symbol('drop');

/**
 * What reaches the SDK for `v`: `v` itself (the same reference) when it can go as it is, the
 * string form of a non-finite number, or DROP. Non-finite numbers are converted rather than
 * passed on because OTLP and Jaeger thrift carry them but Jaeger's query API then answers 500 for
 * the whole trace (its JSON has no NaN); 'NaN' / 'Infinity' / '-Infinity' keep the fact.
 */
function passOn(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return v;
    case 'number':
      return v - v === 0 ? v : String(v);
    case 'object':
      return Array.isArray(v) ? passOnArray(v) : DROP;
    default:
      return DROP;
  }
}

/** A homogeneous array as it is (nulls allowed, as OpenTelemetry allows them), else DROP. */
function passOnArray(arr: readonly unknown[]): unknown {
  let type: string | undefined;
  let finite = true;
  for (const x of arr) {
    if (x == null) continue;
    const t = typeof x;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return DROP;
    if (type === undefined) type = t;
    else if (t !== type) return DROP;
    if (t === 'number' && (x as number) - (x as number) !== 0) finite = false;
  }
  // One non-finite element turns every number into a string: an OTLP array must stay homogeneous.
  return finite ? arr : Array.from(arr, (x) => (x == null ? x : String(x)));
}

/**
 * Drops the values OpenTelemetry cannot carry and turns non-finite numbers into strings, warning
 * once per key; one per tracer.
 */
export class AttributeFilter {
  private readonly logger: Logger;
  private readonly warned: Set<string>;
  private warnedCodes: Set<string> | undefined;

  constructor(logger: Logger) {
    this.logger = logger;
    this.warned = new Set();
    this.warnedCodes = undefined;
  }

  /**
   * One warning per tracer and code for a `setStatus` code that is not `unset`, `ok` or `error`
   * (`'ERROR'`, OpenTelemetry's numeric `SpanStatusCode.ERROR`, a string given for the status
   * object): it changes nothing, as before, but it was silent where a kind in the wrong case is
   * warned about. At most 16 codes remembered; a logger that throws is ignored.
   */
  unknownStatus(status: unknown, code: unknown): void {
    const notObject = typeof status !== 'object' || status === null;
    const shown = notObject ? status : code;
    const name = typeof shown === 'string' ? `'${shown.slice(0, 64)}'` : typeof shown;
    const id = `${notObject ? 'status' : 'code'} ${name}`;
    this.warnedCodes ??= new Set();
    if (this.warnedCodes.has(id) || this.warnedCodes.size >= 16) return;
    this.warnedCodes.add(id);
    const lower = typeof shown === 'string' ? shown.toLowerCase() : '';
    const meant = lower === 'unset' || lower === 'ok' || lower === 'error' ? `'${lower}'` : undefined;
    const hint = notObject
      ? `; setStatus takes { code${meant ? `: ${meant}` : ''}, message? }`
      : meant
        ? `; did you mean ${meant}?`
        : typeof shown === 'number'
          ? "; the code is 'unset', 'ok' or 'error', not OpenTelemetry's numeric SpanStatusCode"
          : '';
    try {
      this.logger.warn(
        `tracing: span ${notObject ? 'status' : 'status code'} ${name} is not one of unset, ok, error: the status is unchanged${hint}`,
      );
    } catch {
      // the span goes on
    }
  }

  /** The attributes to hand the SDK (the same object when nothing changes, the usual case). */
  filter(attributes: Attributes): OtelAttributes {
    try {
      if (allScalar(attributes)) return attributes as OtelAttributes;
      for (const key in attributes) {
        const v = attributes[key];
        if (key === '' || passOn(v) !== v) return this.rebuild(attributes);
      }
      return attributes as OtelAttributes;
    } catch {
      return this.copy(attributes);
    }
  }

  /**
   * A plain copy of what can be read of `attributes`, for a set that threw (a getter, a Proxy, an
   * array whose elements throw): each value is read once, a value whose reading or inspection
   * throws is dropped with the one warning per key (type `unreadable`), arrays are copied, so the
   * SDK reading the copy cannot throw. Never throws: keys that cannot even be listed yield `{}`.
   */
  copy(attributes: Attributes): OtelAttributes {
    const result: Record<string, unknown> = {};
    let keys: string[];
    try {
      keys = [];
      for (const key in attributes) keys.push(key);
    } catch {
      this.warnUnreadable('(attributes)');
      return result as OtelAttributes;
    }
    for (const key of keys) {
      if (key === '') {
        this.emptyName();
        continue;
      }
      try {
        const v: unknown = attributes[key];
        const out = passOn(v);
        if (out !== v) this.warn(key, v, out);
        if (out !== DROP) result[key] = Array.isArray(out) ? Array.from(out as unknown[]) : out;
      } catch {
        this.warnUnreadable(key);
      }
    }
    return result as OtelAttributes;
  }

  /**
   * For the 2.x span start, whose SDK drops invalid values itself but keeps non-finite numbers:
   * warns as `filter` does and returns the converted values to set on the started span over the
   * originals (undefined when there are none). Call it when `allScalar` fails.
   */
  check(attributes: Attributes): OtelAttributes | undefined {
    try {
      return this.converted(attributes);
    } catch {
      return undefined; // unreadable: the caller started the span from `copy` already
    }
  }

  private converted(attributes: Attributes): OtelAttributes | undefined {
    let converted: Record<string, unknown> | undefined;
    for (const key in attributes) {
      // The SDK drops it itself at span start; the warning is ours.
      if (key === '') {
        this.emptyName();
        continue;
      }
      const v = attributes[key];
      const out = passOn(v);
      if (out === v) continue;
      this.warn(key, v, out);
      if (out === DROP) continue;
      converted ??= {};
      converted[key] = out;
    }
    return converted as OtelAttributes | undefined;
  }

  private rebuild(attributes: Attributes): OtelAttributes {
    const result: Record<string, unknown> = {};
    for (const key in attributes) {
      if (key === '') {
        this.emptyName();
        continue;
      }
      const v = attributes[key];
      const out = passOn(v);
      if (out !== v) this.warn(key, v, out);
      if (out !== DROP) result[key] = out;
    }
    return result as OtelAttributes;
  }

  /**
   * Whether `attributes` is a set of attributes: an object, not an array. A string or an array
   * given in its place (JavaScript callers) used to become attributes `"0"`, `"1"`, …; it is
   * dropped instead, with one warning per tracer.
   */
  usable(attributes: unknown): boolean {
    let collection: string | undefined;
    if (typeof attributes === 'object' && attributes !== null && !isArray(attributes)) {
      collection = collectionKind(attributes);
      if (collection === undefined) return true;
    }
    if (attributes !== undefined && !this.warned.has('(attributes)') && this.warned.size < MAX_WARNED_KEYS) {
      this.warned.add('(attributes)');
      const type =
        collection ??
        (attributes === null ? 'null' : Array.isArray(attributes) ? 'array' : typeof attributes);
      this.logger.warn('span attributes dropped: not an object of attributes', { type });
    }
    return false;
  }

  /** One warning per tracer and reason for a span link that is left out (links.ts). */
  droppedLink(reason: string): void {
    const id = `(link) ${reason}`;
    if (this.warned.has(id) || this.warned.size >= MAX_WARNED_KEYS) return;
    this.warned.add(id);
    try {
      this.logger.warn('span link dropped', { reason });
    } catch {
      // the span still starts
    }
  }

  /**
   * One warning per tracer and place for a span time that is not usable (times.ts): the span
   * uses now instead. Names what was wrong, never the value.
   */
  badTime(place: string, what: string): void {
    this.warnOnce(
      `(time) ${place}`,
      `span ${place} ignored: not a time in ms since the epoch or a Date; now is used`,
      {
        received: what,
      },
    );
  }

  /** One warning per tracer for an end time before the span's start (it ends at its start). */
  endBeforeStart(): void {
    this.warnOnce(
      '(time) end before start',
      "span end time is before the span's start: the span ends at its start (duration 0)",
    );
  }

  private warnOnce(id: string, message: string, fields?: Record<string, unknown>): void {
    if (this.warned.has(id) || this.warned.size >= MAX_WARNED_KEYS) return;
    this.warned.add(id);
    try {
      if (fields) this.logger.warn(message, fields);
      else this.logger.warn(message);
    } catch {
      // the span goes on
    }
  }

  /**
   * One warning per tracer for an attribute with an empty name, which is left out: OpenTelemetry
   * drops it (on its `diag` logger only; the 3.x line counts it in the span's dropped attributes),
   * and such an attribute — a name built from an empty header or field — went without a word.
   */
  private emptyName(): void {
    this.warnOnce('(empty name)', 'span attribute dropped: empty attribute name', {
      key: '',
      type: 'empty name',
    });
  }

  private warnUnreadable(key: string): void {
    if (this.warned.has(key) || this.warned.size >= MAX_WARNED_KEYS) return;
    this.warned.add(key);
    this.logger.warn('span attribute dropped: unsupported value type', { key, type: 'unreadable' });
  }

  /** Names the key and the value's type, never the value. */
  private warn(key: string, value: unknown, out: unknown): void {
    if (this.warned.has(key) || this.warned.size >= MAX_WARNED_KEYS) return;
    this.warned.add(key);
    if (out !== DROP) {
      const type = typeof value === 'number' ? 'number' : 'number array';
      this.logger.warn('span attribute converted: non-finite number sent as a string', { key, type });
      return;
    }
    const type =
      value === null ? 'null' : Array.isArray(value) ? 'mixed or non-primitive array' : typeof value;
    this.logger.warn('span attribute dropped: unsupported value type', { key, type });
  }
}
