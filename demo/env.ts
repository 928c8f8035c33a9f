import { normalizeEndpoint } from '../lib/tracing/otel/names.js';

/**
 * The demo's environment variables, read in one place (documented in demo/README.md). Everything
 * is optional: unset means the embedded default.
 */

/**
 * A malformed environment variable: the message names the variable and what it accepts (never a
 * password). The programs print it as one line and exit 1, without a stack trace.
 */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** What the demo reads from the environment. */
export interface DemoEnv {
  /** `DATABASE_URL`: PostgreSQL URL; unset → embedded pglite. */
  databaseUrl: string | undefined;
  /** `REDIS_URL`: `redis://[user:pass@]host:port[/db]`; unset → a second in-memory cache as L2. */
  redisUrl: string | undefined;
  /**
   * OTLP/HTTP traces URL from `HYPERION_TRACING_ENDPOINT` (full URL or `host:port`),
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (full URL) or `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL,
   * `/v1/traces` appended), first one set wins; unset → spans stay in memory.
   */
  tracingEndpoint: string | undefined;
  /**
   * `HYPERION_SAMPLE_RATE` (0..1, parent-based). Unset: `undefined` when `OTEL_TRACES_SAMPLER` is
   * set (the tracer then reads it and its ARG as the OpenTelemetry spec says), else
   * `OTEL_TRACES_SAMPLER_ARG` as a parent-based ratio, else `undefined` (every trace).
   */
  sampleRate: number | undefined;
  /** `HOST`: interface the services bind. Default `127.0.0.1` (compose sets `0.0.0.0`). */
  host: string;
  /** `LOG_LEVEL`: debug | info | warn | error. */
  logLevel: 'debug' | 'info' | 'warn' | 'error' | undefined;
  /** `CALL_TIMEOUT_MS`: bound of one call to another service, ms (1..600000); unset → 5000. */
  callTimeoutMs: number | undefined;
}

/** `text` as a ratio 0..1 (default 1); a bad value throws naming `name`, the variable it came from. */
function rate(name: string, text: string | undefined): number {
  if (text === undefined || text === '') return 1;
  const n = Number(text);
  // A decimal number only: Number() also read `0x1`, `0b1` and `0o1` as 1 (every trace).
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) || !Number.isFinite(n) || n < 0 || n > 1)
    throw new EnvError(`${name} must be a decimal number between 0 and 1, got "${text}"`);
  return n;
}

/**
 * `CALL_TIMEOUT_MS` as a whole number of milliseconds 1..600000, in decimal digits; a bad value
 * throws. `Number()` alone read `0x10` as 16 ms and `0o17` as 15 (PORT refuses those forms too).
 */
function callTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 600_000)
    throw new EnvError(
      `CALL_TIMEOUT_MS must be a whole number of milliseconds from 1 to 600000, got "${text}"`,
    );
  return n;
}

/** `REDIS_URL` as given, once {@link redisOptionsFromUrl} accepts it. */
function checkedRedisUrl(url: string | undefined): string | undefined {
  if (url !== undefined) redisOptionsFromUrl(url);
  return url;
}

/** Reads `env` (default `process.env`); throws an {@link EnvError} on a malformed value, naming the variable. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): DemoEnv {
  const nonEmpty = (k: string) => (env[k] && env[k]!.trim() !== '' ? env[k]!.trim() : undefined);
  const base = nonEmpty('OTEL_EXPORTER_OTLP_ENDPOINT');
  const tracingEndpoint =
    nonEmpty('HYPERION_TRACING_ENDPOINT') ??
    nonEmpty('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ??
    (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (tracingEndpoint !== undefined) {
    // Checked here, like REDIS_URL: a malformed one was a stack trace from the tracer half way
    // through the start, after a warning that "nothing answers at" it. The value is not echoed
    // (a collector URL may carry credentials).
    const from = ['HYPERION_TRACING_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'].find(nonEmpty);
    const r = normalizeEndpoint(tracingEndpoint, 'otlp');
    if ('problem' in r) {
      const accepts =
        from === 'HYPERION_TRACING_ENDPOINT'
          ? 'an http(s) URL or host:port'
          : from
            ? 'an http(s) URL'
            : 'an http(s) base URL (/v1/traces is appended)';
      const port = /^port must/.test(r.problem) ? ', with a port from 1 to 65535' : '';
      throw new EnvError(`${from ?? 'OTEL_EXPORTER_OTLP_ENDPOINT'} must be ${accepts}${port}`);
    }
    if (from !== 'HYPERION_TRACING_ENDPOINT' && !/^https?:\/\//i.test(tracingEndpoint))
      throw new EnvError(
        `${from ?? 'OTEL_EXPORTER_OTLP_ENDPOINT'} must be an http(s) URL (host:port is for HYPERION_TRACING_ENDPOINT)`,
      );
  }
  const level = nonEmpty('LOG_LEVEL');
  if (level && !['debug', 'info', 'warn', 'error'].includes(level))
    throw new EnvError(`LOG_LEVEL must be debug, info, warn or error, got "${level}"`);
  return {
    databaseUrl: checkedDatabaseUrl(nonEmpty('DATABASE_URL')),
    // Checked here, before anything starts: a bad one used to fail half way through the start.
    redisUrl: checkedRedisUrl(nonEmpty('REDIS_URL')),
    tracingEndpoint,
    // HYPERION_SAMPLE_RATE wins; OTEL_TRACES_SAMPLER (always_off, traceidratio, …) is the tracer's
    // to read: a rate given here would override it (the demo used to ignore the variable).
    sampleRate: nonEmpty('HYPERION_SAMPLE_RATE')
      ? rate('HYPERION_SAMPLE_RATE', nonEmpty('HYPERION_SAMPLE_RATE'))
      : nonEmpty('OTEL_TRACES_SAMPLER')
        ? undefined
        : nonEmpty('OTEL_TRACES_SAMPLER_ARG')
          ? rate('OTEL_TRACES_SAMPLER_ARG', nonEmpty('OTEL_TRACES_SAMPLER_ARG'))
          : undefined,
    host: nonEmpty('HOST') ?? '127.0.0.1',
    logLevel: level as DemoEnv['logLevel'],
    callTimeoutMs: callTimeout(nonEmpty('CALL_TIMEOUT_MS')),
  };
}

/**
 * A port from `env[name]` (decimal digits, 0..65535; surrounding spaces ignored), or `fallback`
 * when unset or empty. `Number()` alone read `" "` as port 0 (a random free port, without a word)
 * and `0x1F90` as 8080.
 */
export function envPort(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535)
    throw new EnvError(`${name} must be a port 0..65535, got "${text}"`);
  return n;
}

/**
 * The ports fetch refuses to connect to (https://fetch.spec.whatwg.org/#port-blocking), as Node's
 * fetch (undici) applies them on Node 20 and 24.
 */
const FETCH_BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Why `url` (the value of `name`) cannot be used when fetch refuses its port, else `undefined`. */
export function refusedPort(name: string, url: URL): string | undefined {
  if (!FETCH_BAD_PORTS.has(Number(url.port))) return undefined;
  return `${name} must not use port ${url.port}: fetch and browsers refuse to connect to it (a "bad port" of the Fetch standard), so every request to it would fail`;
}

/**
 * A peer's base URL from `env[name]` (`USER_SERVICE_URL`, `ORDER_SERVICE_URL`), or `fallback` when
 * unset or empty. It must be an `http://` or `https://` URL without query or fragment, on a port
 * fetch connects to (not one of `FETCH_BAD_PORTS`); trailing
 * slashes are dropped, so `http://user-service:8081/` works like `http://user-service:8081` (with
 * the slash every call went to `//users/…` and got the peer's 404 "no such route"; `host:port`
 * without a scheme parsed as a URL of scheme `host:` and every call failed with 502).
 */
export function serviceUrl(name: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const text = env[name]?.trim();
  if (!text) return fallback;
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  // A user name or password is refused too (fetch refuses such URLs) and never echoed.
  if (u?.username || u?.password)
    throw new EnvError(`${name} must be an http:// or https:// base URL without a user name or password`);
  // Shown only without an `@`: a value the URL parser cannot read (a typo such as `http//u:pw@h`,
  // no scheme) may still hold a user name and password.
  // Port 0 (`:0`, `:00`): every call failed at run time (ECONNREFUSED, a 502 for each request).
  if (u?.port === '0') throw new EnvError(`${name} must have a port from 1 to 65535 (or none), got port 0`);
  // The example is the variable's own default: it was the user service's URL for every variable
  // (`JAEGER_UI_URL … such as http://127.0.0.1:8081`, a port where no Jaeger UI is).
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.host || u.search || u.hash)
    throw new EnvError(
      `${name} must be an http:// or https:// base URL such as ${fallback}${text.includes('@') ? ' (the value is not shown: it may hold a password)' : `, got "${text}"`}`,
    );
  // A port fetch refuses to connect to (the Fetch standard's "bad ports": 6000, 6666, 10080 …):
  // the service started, and every call to that peer was a 502 "did not answer", reason
  // "TypeError", while the peer answered anyone else on that port (browsers refuse such a
  // JAEGER_UI_URL link too).
  const refused = refusedPort(name, u);
  if (refused) throw new EnvError(refused);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * `DATABASE_URL` as given; the rest (a URL at all, its scheme, a server there) is checked when the
 * database opens. Port 0 (`:0`, `:00`) gave "ECONNREFUSED" after the tracer and caches had started,
 * as if the server were down.
 */
function checkedDatabaseUrl(url: string | undefined): string | undefined {
  if (url !== undefined && URL.canParse(url) && new URL(url).port === '0')
    throw new EnvError('DATABASE_URL port must be from 1 to 65535 (or none: 5432)');
  return url;
}

/** `redis://[user:pass@]host:port[/db]` → the Redis cache adapter's options. */
export function redisOptionsFromUrl(url: string): {
  addresses: string[];
  password?: string;
  username?: string;
  db?: number;
} {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new EnvError('REDIS_URL is not a valid URL (expected redis://[user:pass@]host:port[/db])');
  }
  if (u.protocol !== 'redis:') throw new EnvError('REDIS_URL must start with redis://');
  // Taken as it was, `redis://host:0` failed half way through the start with the Redis cache's
  // ConfigError ("addresses.0: malformed address") and a stack trace, after a warning that
  // nothing answered there.
  if (u.port === '0') throw new EnvError('REDIS_URL port must be from 1 to 65535 (or none: 6379)');
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  // The Redis adapter takes databases 0..15 (Redis's default count).
  if (db !== undefined && (!/^\d+$/.test(u.pathname.slice(1)) || db > 15))
    throw new EnvError(
      'REDIS_URL database (the path, as in redis://host:6379/0) must be a number from 0 to 15',
    );
  // decodeURIComponent's own URIError ("URI malformed") named neither the variable nor the part.
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new EnvError('REDIS_URL has a malformed percent-escape in its user name or password');
    }
  };
  return {
    addresses: [`${u.hostname}:${u.port || 6379}`],
    ...(u.password ? { password: decode(u.password) } : {}),
    ...(u.username ? { username: decode(u.username) } : {}),
    ...(db !== undefined ? { db } : {}),
  };
}

/**
 * The error of a service that could not listen, naming `HOST` when the host was the problem: a name
 * that does not resolve used to say only `getaddrinfo ENOTFOUND no.such.host`, without the variable
 * (and `npm run demo` printed it with a stack trace). Used by the standalone services and demo/run.ts.
 */
export function hostError(err: unknown, host: string): unknown {
  const e = err as NodeJS.ErrnoException & { hostname?: string; address?: string };
  if (e?.syscall === 'getaddrinfo' && e.hostname === host)
    return new EnvError(`HOST "${host}" is not a name this machine can resolve to listen on (${e.code})`);
  if (e?.code === 'EADDRNOTAVAIL' && e.address === host)
    return new EnvError(`HOST "${host}" is not an address of this machine (EADDRNOTAVAIL)`);
  return err;
}
