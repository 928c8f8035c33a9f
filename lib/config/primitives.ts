/**
 * Reusable valibot pieces for config sections. Each carries, as its message, what the field
 * accepts in plain words ("a whole number from 0 to 15"); the loader pairs it with why the value
 * failed ("is too large"). Every number has a range: durations that arm timers end at
 * 2^31 − 1 ms (Node fires longer timers at once), cache TTLs at 365 days, counts where the
 * component stops making sense.
 */
import * as v from 'valibot';
import { ConfigError, typeName } from '../core/errors.js';
import { readBindHost } from '../core/host.js';
import { MAX_COUNT, MAX_TIMER_MS, MAX_TTL_MS, unknownKeyMessage } from '../core/options.js';

export { MAX_COUNT, MAX_TIMER_MS, MAX_TTL_MS };

/** Seconds per unit (ms: none, the number is read as milliseconds as written). */
const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * Parses "250ms", "5s", "1m", "1h", "1.5s" to milliseconds; `undefined` when malformed. The
 * decimal is scaled to milliseconds as written (`"1.005s"` read as `1.005e3`), then by whole
 * seconds per unit: `1.005 * 1000` is 1004.9999999999999 in floating point, so a whole number of
 * milliseconds written in seconds, minutes or hours (`1.005s`, `2.01m`, `0.07h`, and hundreds
 * more) was refused by a field that takes whole ms (`lease.ttl`), and a TTL came out a hair longer
 * or shorter (`0.07h` was 252000.00000000003 ms, sent to Redis as `PX 252001`).
 */
export function parseDuration(text: string): number | undefined {
  if (text.length > 64) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2]!;
  return unit === 'ms' ? Number(m[1]) : Number(`${m[1]}e3`) * SECONDS[unit]!;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** The mapping helper of each cache type (a cache section's `type`). */
const CACHE_HELPERS: Record<string, string> = {
  memory: 'memoryOptionsFromConfig',
  redis: 'redisOptionsFromConfig',
  tiered: 'tieredOptionsFromConfig',
};

/** Where a section of each cache type sits in a config file. */
const CACHE_PLACES: Record<string, string> = {
  memory: 'config.cache, or config.cache.l1 / config.cache.l2 of a tiered cache',
  redis: 'config.cache, or config.cache.l2 of a tiered cache',
  tiered: 'config.cache',
};

/** The top-level sections of a config file. */
const TOP_SECTIONS = ['service', 'logging', 'tracing', 'cache', 'metrics'];

/** Where the section a helper maps sits in a config file. */
const placeOf = (path: string, cacheType: string | undefined) =>
  cacheType === undefined ? `config.${path}` : (CACHE_PLACES[cacheType] ?? `config.${path}`);

/**
 * The section an `…OptionsFromConfig` mapping was given, or a `ConfigError` naming the section
 * when it is none: a file without `tracing:` loads with `config.tracing` absent, and
 * `tracingOptionsFromConfig(config.tracing)` (from JavaScript, or an `any`-typed config) threw a
 * raw TypeError ("Cannot read properties of undefined (reading 'enabled')"); a number or a string
 * mapped to `{}`, every default. So is a section of another kind, told by a field the helper's
 * section does not have (`fields` are its fields; a loaded section has no other): the whole
 * config, `config.service` or `config.cache` given to `tracingOptionsFromConfig` mapped to `{}`
 * too, a tracer with every default, and `redisOptionsFromConfig(config.metrics)` to a Redis at
 * 127.0.0.1:6379. The error says what the section given is and which call maps it.
 */
export function givenSection<T>(
  section: T,
  helper: string,
  path: string,
  absentMeans: string,
  fields: readonly string[],
  cacheType?: string,
): T {
  if (isPlainObject(section)) {
    // A cache section of another type: `redisOptionsFromConfig(config.cache)` of a tiered cache
    // mapped to `{}`, and `createRedisCache({})` connected to 127.0.0.1:6379, not to `cache.l2`.
    const type = section.type;
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : typeName(type);
    const typeHelper = typeof type === 'string' ? CACHE_HELPERS[type] : undefined;
    if (cacheType !== undefined && type !== undefined && type !== cacheType) {
      const level = cacheType === 'memory' ? 'l1' : 'l2';
      throw new ConfigError(`${helper}: the section given is of cache type ${shown}, not ${cacheType}`, [
        {
          // Only a tiered section is surely `cache`; a memory or redis one may be a level.
          path: type === 'tiered' ? 'cache.type' : 'type',
          expected: cacheType,
          received: shown,
          message:
            type === 'tiered'
              ? `is a tiered cache: map its level instead, ${helper}(config.${path}.${level})`
              : typeHelper !== undefined
                ? `is a ${type} cache section (${CACHE_PLACES[type as string]}): map it with ${typeHelper}; ${helper} takes a ${cacheType} one (${placeOf(path, cacheType)})`
                : `is not a cache type: give ${helper} ${placeOf(path, cacheType)}`,
        },
      ]);
    }
    const foreign = Object.keys(section).filter((key) => !fields.includes(key));
    if (foreign.length === 0) return section;
    const listed = `${foreign
      .slice(0, 5)
      .map((key) => `\`${key.slice(0, 64)}\``)
      .join(', ')}${foreign.length > 5 ? ', …' : ''}`;
    const what =
      typeHelper !== undefined && cacheType === undefined
        ? `is the ${type} cache section (${CACHE_PLACES[type as string]}): map it with ${typeHelper}`
        : foreign.length === 1 && foreign[0] === 'name' && Object.keys(section).length === 1
          ? path === 'tracing'
            ? 'is the `service` section (config.service), whose name is the default service name: give it second, tracingOptionsFromConfig(config.tracing, config.service)'
            : `is the \`service\` section (config.service): give ${helper} ${placeOf(path, cacheType)}`
          : foreign.every((key) => TOP_SECTIONS.includes(key))
            ? `is the whole config: give ${helper} its \`${path}\` section, ${placeOf(path, cacheType)}`
            : `is not the \`${path}\` section: give ${helper} ${placeOf(path, cacheType)}${
                foreign.length === 1
                  ? ` (\`${foreign[0]!.slice(0, 64)}\` ${unknownKeyMessage(foreign[0]!, fields, 'field')})`
                  : ''
              }`;
    throw new ConfigError(`${helper}: the section given is not a \`${path}\` section (it has ${listed})`, [
      {
        path,
        expected: `the \`${path}\` section of a loaded config (fields: ${fields.join(', ')})`,
        received: `a mapping with ${listed}`,
        message: what,
      },
    ]);
  }
  const absent = section === undefined || section === null;
  throw new ConfigError(`${helper}: no \`${path}\` section given`, [
    {
      path,
      expected: `the \`${path}\` section of a loaded config (a mapping)`,
      received: typeName(section),
      message: absent
        ? `is absent: a config without \`${path}:\` has none (${absentMeans}); check it before mapping it`
        : 'is not a section',
    },
  ]);
}

/** The fields of each schema made by `section` (what `givenSection` checks a mapping's input by). */
const SECTION_FIELDS = new WeakMap<object, readonly string[]>();

/** The fields of a section schema made by `section`. */
export function sectionFields(schema: object): readonly string[] {
  const fields = SECTION_FIELDS.get(schema);
  if (fields === undefined) throw new Error('sectionFields: not a schema made by section()');
  return fields;
}

/** `12,345` style for the bounds shown in messages. */
const big = (n: number) => n.toLocaleString('en-US');

function showMs(ms: number): string {
  if (ms === MAX_TIMER_MS) return `${big(ms)} ms (about 24.8 days)`;
  if (ms === MAX_TTL_MS) return '365 days';
  return `${big(ms)} ms`;
}

export interface DurationRange {
  /** Smallest accepted value in ms. Default 0. */
  min?: number | undefined;
  /** Whether `min` itself is excluded (`> 0`). Default false. */
  exclusive?: boolean | undefined;
  /** Largest accepted value in ms. Default `MAX_TIMER_MS`. */
  max?: number | undefined;
  /** Whole milliseconds only. Default false. */
  integer?: boolean | undefined;
}

/**
 * A duration: a number of milliseconds, or a string like "5s" / "250ms" (the original YAML style),
 * within a range. Output: ms.
 */
export function durationIn({
  min = 0,
  exclusive = false,
  max = MAX_TIMER_MS,
  integer = false,
}: DurationRange = {}) {
  const low = exclusive ? `above ${showMs(min)}` : `from ${showMs(min)}`;
  const phrase =
    `a duration ${low} up to ${showMs(max)}${integer ? ' in whole milliseconds' : ''}, ` +
    'written like "250ms", "5s", "1m", "1h" or as a number of milliseconds';
  return v.pipe(
    v.union([v.number(phrase), v.string(phrase)], phrase),
    v.transform((x): number => (typeof x === 'number' ? x : (parseDuration(x) ?? Number.NaN))),
    v.check((ms) => !Number.isNaN(ms), phrase),
    exclusive ? v.gtValue(min, phrase) : v.minValue(min, phrase),
    v.maxValue(max, phrase),
    v.check((ms) => !integer || Number.isInteger(ms), phrase),
    v.transform(unsignedZero),
  );
}

/**
 * `-0` (YAML and JSON read `-0`, `-0.0`, `-0e3` as negative zero) is 0: it passes a range from 0
 * as 0 does, and the loaded config holds 0, not a `-0` that prints as such (`util.inspect`).
 */
function unsignedZero(n: number): number {
  return n === 0 ? 0 : n;
}

/** A timer duration from 0 to 2^31 − 1 ms ("250ms", "5s" or ms). */
export const duration = durationIn();

/** A whole number in `min..max`. */
export function intIn(min: number, max: number, phrase = `a whole number from ${big(min)} to ${big(max)}`) {
  return v.pipe(
    v.number(phrase),
    v.integer(phrase),
    v.minValue(min, phrase),
    v.maxValue(max, phrase),
    v.transform(unsignedZero),
  );
}

/** A number in `min..max` (fractions allowed). */
export function numberIn(min: number, max: number, phrase = `a number from ${min} to ${max}`) {
  return v.pipe(
    v.number(phrase),
    v.minValue(min, phrase),
    v.maxValue(max, phrase),
    v.transform(unsignedZero),
  );
}

/** A fraction from 0.0 to 1.0. */
export const fraction = numberIn(0, 1, 'a fraction from 0.0 to 1.0');

export const flag = v.boolean('true or false');

/** Any text. */
export const text = v.string('text');

/** Non-empty text; `phrase` names what it is ("a non-empty service name"). */
export function nonEmpty(phrase: string) {
  return v.pipe(v.string(phrase), v.minLength(1, phrase));
}

/**
 * A host name or address (`localhost`, `10.0.0.5`, `::`, `redis.internal`): non-empty, without
 * whitespace — a blank `" "` would only fail later, when the server binds or the TLS handshake
 * starts.
 */
export function hostName(phrase = 'a host name or address without spaces') {
  return v.pipe(v.string(phrase), v.regex(/^\S+$/, phrase));
}

/**
 * The address a server of ours binds to (`metrics.host`): checked by the rule `createMetrics`
 * applies when it is created (lib/core/host.ts), so a zone id, brackets around a name or IPv4
 * address, a malformed address or a name with characters no host name has is refused at load,
 * not at listen(). The text is kept as written (`[::1]`, `127.1`); `createMetrics` reads it.
 */
export function bindHost(
  phrase = 'a host name or address without spaces (127.0.0.1, ::1 or [::1], 0.0.0.0, ::, a name)',
) {
  return v.pipe(
    hostName(phrase),
    // The factory's reason (zone id, brackets, not a name), without the value: the config named
    // none ("is not in an accepted form"), while createMetrics said what to write instead.
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const read = readBindHost(dataset.value, false);
      if (typeof read === 'string')
        (addIssue as AddIssue)({ message: `is not in an accepted form: ${read}`, expected: phrase });
    }),
  );
}

/** One of a fixed list of words. */
export function oneOf<const T extends readonly string[]>(
  options: T,
  phrase = `one of: ${options.join(', ')}`,
) {
  return v.picklist(options, phrase);
}

/** A non-empty list. */
export function listOf<S extends v.GenericSchema>(item: S, phrase: string) {
  return v.pipe(v.array(item, phrase), v.minLength(1, phrase));
}

/** A mapping of name → value (a list is not a mapping, even though JavaScript would index it). */
export function mapOf<K extends v.GenericSchema<string, string>, S extends v.GenericSchema>(
  key: K,
  value: S,
  phrase: string,
  most?: { entries: number; phrase: string },
) {
  // One pipe: the loader's schema walk (validate.ts fieldSchema) finds the values' schema in it.
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, phrase),
    v.record(key, value, phrase),
    v.check((m) => most === undefined || Object.keys(m).length <= most.entries, most?.phrase ?? phrase),
  );
}

/**
 * "host:port" with a port in 1..65535. The host is a name (letters, digits, `.`, `-`, `_`), an
 * IPv4 address or a bracketed IPv6 one: `token@host:6379` (a credential pasted in front of the
 * host, as in a URL) is refused here, not taken for a host name and printed with the config.
 */
const HOST_PORT_PHRASE = 'an address "host:port" with a port from 1 to 65535';
export const hostPort = v.pipe(
  v.string(HOST_PORT_PHRASE),
  v.regex(/^(\[[0-9a-fA-F:.]+\]|[\p{L}\p{N}._-]+):(\d{1,5})$/u, HOST_PORT_PHRASE),
  v.check((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, HOST_PORT_PHRASE),
);

export const port = intIn(0, 65535, 'a port number from 0 to 65535');

/** An absolute http(s) URL. */
export const httpUrl = v.pipe(
  v.string('an http:// or https:// URL'),
  v.url('an http:// or https:// URL'),
  v.check((s) => /^https?:\/\//.test(s), 'an http:// or https:// URL'),
);

type AddIssue = (info: {
  message: string;
  expected?: string | undefined;
  path?: [v.ObjectPathItem, ...v.ObjectPathItem[]] | undefined;
}) => void;

/** A rule across fields, checked on the section once its fields are read. */
export type SectionRule = (
  value: Record<string, unknown>,
  fail: (path: string[], message: string, expected: string) => void,
) => void;

function pathItems(
  root: Record<string, unknown>,
  path: readonly string[],
): [v.ObjectPathItem, ...v.ObjectPathItem[]] {
  const items: v.ObjectPathItem[] = [];
  let node: unknown = root;
  for (const key of path) {
    const input = (isPlainObject(node) ? node : {}) as Record<string, unknown>;
    items.push({ type: 'object', origin: 'value', input, key, value: input[key] });
    node = input[key];
  }
  return items as [v.ObjectPathItem, ...v.ObjectPathItem[]];
}

/** Unknown keys listed with a suggestion each (for the first 100; a file of typos needs no more). */
const MAX_SUGGESTIONS = 100;

/**
 * A mapping with known keys: a list or scalar is refused, every unknown key is reported (with the
 * nearest known key as a suggestion), and `rules` check combinations of fields.
 */
export function section<E extends v.ObjectEntries>(
  entries: E,
  what: string,
  rules: readonly SectionRule[] = [],
) {
  const known = Object.keys(entries);
  const phrase = `a mapping of ${what} (keys: ${known.join(', ')})`;
  const schema = v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, phrase),
    v.looseObject(entries),
    v.rawCheck(({ dataset, addIssue }) => {
      const value = dataset.value as Record<string, unknown>;
      const add = addIssue as AddIssue;
      let unknown = 0;
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(entries, key)) continue;
        add({
          message:
            unknown++ < MAX_SUGGESTIONS ? unknownKeyMessage(key, known, 'field') : 'is not a known field',
          expected: `one of the fields ${known.join(', ')}`,
          path: pathItems(value, [key]),
        });
      }
      for (const rule of rules) {
        rule(value, (path, message, expected) => add({ message, expected, path: pathItems(value, path) }));
      }
    }),
    v.transform((x) => x as v.InferOutput<v.ObjectSchema<E, undefined>>),
  );
  SECTION_FIELDS.set(schema, known);
  return schema;
}
